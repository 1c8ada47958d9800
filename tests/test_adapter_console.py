"""The console adapter's files and its part of the adapter protocol: a reply's attachments
are written to the chosen directory (never over an existing file) and announced as
"Saved FILE"; `/import PATH` hands the file to the command; the health endpoint sees the
console through the same protocol as the platforms."""

from __future__ import annotations

from io import StringIO

from adapters.console import MAX_IMPORT_BYTES, ConsoleAdapter
from bot.adapter import Adapter
from bot.types import Attachment, Incoming, Reply, RichText


class Recorder:
    """The command layer as the console sees it (one dispatch function): /export answers
    with a file, everything else is recorded and acknowledged."""

    def __init__(self) -> None:
        self.seen: list[Incoming] = []

    async def dispatch(self, incoming: Incoming) -> Reply:
        self.seen.append(incoming)
        if incoming.text.startswith("/export"):
            return Reply(RichText.of("Your watches."),
                         attachments=(Attachment("watches.txt", b"diffusion\n"),))
        return Reply.text("Imported.")


async def test_a_reply_file_is_saved_in_the_directory_and_never_overwrites(tmp_path):
    recorder = Recorder()
    out = StringIO()
    console = ConsoleAdapter(recorder.dispatch, out=out, files_dir=tmp_path)
    first = await console.push("/export watches")
    assert first == f"Your watches.\nSaved {tmp_path / 'watches.txt'}"
    (tmp_path / "watches.txt").write_bytes(b"edited by hand\n")
    second = await console.push("/export watches")
    assert second.endswith(f"Saved {tmp_path / 'watches-2.txt'}")
    assert (tmp_path / "watches.txt").read_bytes() == b"edited by hand\n"
    assert (tmp_path / "watches-2.txt").read_bytes() == b"diffusion\n"
    assert "Saved" in out.getvalue()


async def test_a_reply_file_goes_to_the_current_directory_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    console = ConsoleAdapter(Recorder().dispatch, out=StringIO())
    assert (await console.push("/export watches")).endswith("Saved " + str(tmp_path /
                                                                           "watches.txt"))
    assert (tmp_path / "watches.txt").read_bytes() == b"diffusion\n"


async def test_import_path_reads_the_file_into_the_command(tmp_path):
    recorder = Recorder()
    console = ConsoleAdapter(recorder.dispatch, out=StringIO())
    source = tmp_path / "mine.txt"
    source.write_bytes(b"diffusion\nvideo\n")
    assert await console.push(f"/import {source}") == "Imported."
    [incoming] = recorder.seen
    assert incoming.text == "/import"
    assert incoming.attachment == Attachment("mine.txt", b"diffusion\nvideo\n", "text/plain")


async def test_import_refuses_a_missing_or_huge_file_without_running_the_command(tmp_path):
    recorder = Recorder()
    console = ConsoleAdapter(recorder.dispatch, out=StringIO())
    assert (await console.push(f"/import {tmp_path / 'nope.txt'}")).startswith("Can't read")
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"x" * (MAX_IMPORT_BYTES + 1))
    assert "Nothing was imported" in await console.push(f"/import {huge}")
    assert recorder.seen == []


async def test_the_console_is_an_adapter_that_is_always_healthy():
    console: Adapter = ConsoleAdapter(Recorder().dispatch, out=StringIO())
    await console.start(receive=True)
    assert console.connected
    await console.stop()
