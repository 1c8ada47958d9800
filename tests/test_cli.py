"""The command line as a person runs it: real subprocesses of `python -m bot`."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import paper_item, write_jsonl


def _run(*args: str, stdin: str = "", cwd=None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, text=True,
                          capture_output=True, timeout=timeout, cwd=cwd)


def test_demo_piped(tmp_path):
    result = _run("demo", stdin="/watch federated learning\n/publish\n/watches\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Watching “federated learning”" in out
    assert "🔔 26 new papers match your watches" in out
    assert "1. federated learning — 26 hits" in out
    assert list(tmp_path.iterdir()) == []  # the demo database is thrown away


def test_console_ingest_and_state_shared_through_the_database(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}"
    first = _run("console", "--db", url, stdin="/watch sparse attention\n")
    assert "Watching" in first.stdout, first.stderr
    papers = write_jsonl(tmp_path / "p.jsonl", [
        paper_item("2601.01234", "Sparse attention for long documents"), "{broken"])
    ingest = _run("ingest", str(papers), "--db", url)
    assert ingest.returncode == 0
    assert "1 new" in ingest.stdout and "line 2: not valid JSON" in ingest.stdout
    # the alert waits in the outbox until a console (the chat it belongs to) runs again
    second = _run("console", "--db", url, stdin="/watches\n")
    assert "Sparse attention for long documents" in second.stdout
    assert "1. sparse attention — 1 hit" in second.stdout
    third = _run("console", "--db", url, stdin="/watches\n")
    assert "Sparse attention for long documents" not in third.stdout  # never twice


def test_db_upgrade_and_check_config(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}"
    upgraded = _run("db", "upgrade", "--db", url)
    assert upgraded.returncode == 0 and "revision 0" in upgraded.stdout
    ok = _run("check-config", "--db", url)
    assert ok.returncode == 0 and "configuration: ok" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[sources.hf]\npoll_seconds = 'often'\n")
    failed = _run("check-config", "--config", str(bad))
    assert failed.returncode == 2
    assert "sources.hf.poll_seconds: expected a whole number" in failed.stderr
    unreachable = _run("check-config", "--db", "postgresql+asyncpg://nobody@127.0.0.1:1/x")
    assert unreachable.returncode == 1 and "cannot connect" in unreachable.stdout


def test_status_reports_the_queue_before_and_after_delivery(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}"
    _run("console", "--db", url, stdin="/watch sparse attention\n")
    papers = write_jsonl(tmp_path / "p.jsonl", [
        paper_item("2601.01234", "Sparse attention for long documents"),
        paper_item("2601.01235", "Sparse attention, again")])
    assert _run("ingest", str(papers), "--db", url).returncode == 0
    waiting = _run("status", "--db", url)
    assert waiting.returncode == 0, waiting.stderr
    assert "console: pending 2, sent 0, failed 0" in waiting.stdout
    assert "Due now: 2" in waiting.stdout
    _run("console", "--db", url, stdin="")  # the console chat takes its alerts
    done = _run("status", "--db", url)
    assert "console: pending 0, sent 2, failed 0" in done.stdout
    assert "Due now: 0" in done.stdout
