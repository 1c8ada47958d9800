"""/export watches and /import: the file round-trips, refused lines are named by number."""

from __future__ import annotations

from bot.export.watch_file import MAX_WATCHES, read_watch_file, write_watch_file


def test_exported_watches_read_back_as_the_same_queries():
    queries = ["federated learning", '"diffusion transformer" -survey', 'au:"Yann LeCun"',
               "diffusion AND (video OR audio)"]
    back = read_watch_file(write_watch_file(queries, "telegram chat 42").encode())
    assert [q.text for q in back.queries] == queries
    assert back.errors == []


def test_bad_lines_are_reported_by_number_and_the_rest_kept():
    data = b'# mine\n\nfederated learning\n"unbalanced\nre-ranking\nreranking\nfoo:bar\n'
    result = read_watch_file(data)
    assert [q.text for q in result.queries] == ["federated learning", "re-ranking"]
    assert [e.split(":")[0] for e in result.errors] == ["line 4", "line 7"]
    assert "quote" in result.errors[0].lower()


def test_oversized_and_overlong_files_are_bounded():
    assert read_watch_file(b"x" * 70_000).errors[0].startswith("the file is larger")
    many = "\n".join(f"topic{n} words" for n in range(MAX_WATCHES + 5)).encode()
    result = read_watch_file(many)
    assert len(result.queries) == MAX_WATCHES and "more than" in result.errors[-1]


def test_invalid_utf8_and_a_bom_do_not_break_reading():
    result = read_watch_file("\ufefffederated learning\n".encode() + b"\xff\xfe bad\n")
    assert [q.text for q in result.queries][0] == "federated learning"
