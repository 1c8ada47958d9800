"""Operational failures of the command line, as a person meets them: each ends with one
line naming the problem and what to do, a non-zero exit, no traceback, no secret, and
nothing created on disk that was not asked for. Real subprocesses of `python -m bot`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import paper_item, write_jsonl

PASSWORD = "sekrit-db-pw"
CLOSED_PG = f"postgresql+asyncpg://paperwatch:{PASSWORD}@127.0.0.1:1/paperwatch"


def _run(*args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None,
         timeout: float = 60) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWATCH_")}
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, text=True,
                          capture_output=True, timeout=timeout, cwd=cwd,
                          env={**environ, **(env or {})})


def _problem_lines(result: subprocess.CompletedProcess) -> list[str]:
    """stderr without the ordinary info lines of a starting `run`."""
    return [line for line in result.stderr.splitlines()
            if line.strip() and "level=info" not in line]


def assert_one_line(result: subprocess.CompletedProcess, *expected: str) -> str:
    assert result.returncode not in (0, None), (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = _problem_lines(result)
    assert 1 <= len(lines) <= 2, result.stderr
    for text in expected:
        assert text in lines[-1], lines
    return lines[-1]


def _commands(tmp_path: Path) -> dict[str, list[str]]:
    papers = write_jsonl(tmp_path / "p.jsonl", [paper_item("2601.00001", "A paper")])
    return {"run": ["run"], "console": ["console"], "status": ["status"],
            "ingest": ["ingest", str(papers)], "db upgrade": ["db", "upgrade"],
            "backfill": ["backfill", "--source", "hf", "--since", "2026-11-01"]}


COMMANDS = ["run", "console", "status", "ingest", "db upgrade", "backfill"]


def _offline_config(tmp_path: Path) -> Path:
    config = tmp_path / "offline.toml"
    config.write_text("[sources.hf]\nenabled = false\n")
    return config


# --- a new directory, no database yet ----------------------------------------------------

def test_status_in_a_new_directory_says_how_to_create_the_database_and_creates_nothing(
        tmp_path):
    result = _run("status", cwd=tmp_path)
    assert_one_line(result, "paperwatch.db does not exist yet", "paperwatch db upgrade")
    assert list(tmp_path.iterdir()) == []


def test_status_on_an_empty_database_file_says_it_has_no_schema(tmp_path):
    (tmp_path / "paperwatch.db").touch()
    result = _run("status", cwd=tmp_path)
    assert_one_line(result, "schema missing", "paperwatch db upgrade")


def test_check_config_reports_the_schema_revision_missing_behind_current(tmp_path):
    missing = _run("check-config", cwd=tmp_path)
    assert "schema: missing (latest " in missing.stdout and "database: ok" not in missing.stdout
    assert list(tmp_path.iterdir()) == []  # asking does not create the file
    url = f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}"
    assert _upgrade_to(url, "0001") == 0
    behind = _run("check-config", "--db", url, cwd=tmp_path)
    assert "schema: behind (current 0001, latest " in behind.stdout, behind.stdout
    assert _run("db", "upgrade", "--db", url, cwd=tmp_path).returncode == 0
    current = _run("check-config", "--db", url, cwd=tmp_path)
    assert "schema: current (" in current.stdout and current.returncode == 0


def test_check_config_without_auto_upgrade_fails_on_a_missing_schema(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[database]\nauto_upgrade = false\n")
    result = _run("check-config", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1 and "schema: missing" in result.stdout


def _upgrade_to(url: str, revision: str) -> int:
    code = ("import asyncio, sys\nfrom storage import db\n"
            "async def main():\n    e = db.create_engine(sys.argv[1])\n"
            "    await db.upgrade(e, sys.argv[2])\n    await e.dispose()\n"
            "asyncio.run(main())\n")
    return subprocess.run([sys.executable, "-c", code, url, revision], timeout=60).returncode


# --- ingest and backfill arguments -------------------------------------------------------

def test_ingest_of_a_file_that_is_not_there_fails(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}"
    result = _run("ingest", "nosuchfile.json", "--db", url, cwd=tmp_path)
    assert_one_line(result, "can't read nosuchfile.json", "No such file")
    assert not (tmp_path / "pw.db").exists()


def test_ingest_says_one_paper_in_the_singular(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}"
    papers = write_jsonl(tmp_path / "p.jsonl", [paper_item("2601.00001", "A paper")])
    result = _run("ingest", str(papers), "--db", url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Ingested 1 paper from" in result.stdout and "1 papers" not in result.stdout


def test_backfill_from_a_future_day_without_until_names_only_since(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}"
    result = _run("backfill", "--source", "hf", "--since", "2999-01-01", "--db", url,
                  cwd=tmp_path)
    line = assert_one_line(result, "--since 2999-01-01 is in the future")
    assert "--until" not in line


# --- configuration files -----------------------------------------------------------------

@pytest.mark.parametrize("kind", ["directory", "not utf-8", "port out of range",
                                  "webhook port out of range"])
def test_a_bad_config_file_is_one_line(tmp_path, kind):
    path = tmp_path / "c.toml"
    expected = {"directory": "is a directory", "not utf-8": "is not UTF-8",
                "port out of range": "http.port: expected a TCP port from 1 to 65535",
                "webhook port out of range": "telegram.webhook_port: expected a TCP port"}
    if kind == "directory":
        path.mkdir()
    elif kind == "not utf-8":
        path.write_bytes(b"[database]\nurl = \"\xff\xfe\"\n")
    elif kind == "port out of range":
        path.write_text("[http]\nport = 99999\n")
    else:
        path.write_text("[telegram]\nwebhook_port = 70000\n")
    for command in (["check-config"], ["status"], ["run"]):
        result = _run(*command, "--config", str(path), cwd=tmp_path)
        assert result.returncode == 2
        assert_one_line(result, "configuration error:", expected[kind])


# --- databases that cannot be used -------------------------------------------------------

@pytest.mark.parametrize("command", COMMANDS)
def test_a_database_in_a_missing_directory_is_one_line(tmp_path, command):
    url = f"sqlite+aiosqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'pw.db'}"
    args = _commands(tmp_path)[command]
    result = _run(*args, "--db", url, "--config", str(_offline_config(tmp_path)),
                  cwd=tmp_path)
    assert_one_line(result, f"the directory {tmp_path / 'no' / 'such' / 'dir'} does not exist")
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("command", [*COMMANDS, "check-config"])
def test_postgresql_on_a_closed_port_is_one_line_without_the_password(tmp_path, command):
    args = _commands(tmp_path).get(command, [command])
    result = _run(*args, "--db", CLOSED_PG, "--config", str(_offline_config(tmp_path)),
                  cwd=tmp_path)
    if command == "check-config":  # reports on stdout, line by line
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert "connection refused" in result.stdout and PASSWORD not in result.stdout
        return
    assert_one_line(result, "127.0.0.1:1", "connection refused", "is PostgreSQL running")
    assert PASSWORD not in result.stderr + result.stdout


def _read_only_url(tmp_path: Path) -> str:
    path = tmp_path / "pw.db"
    url = f"sqlite+aiosqlite:///{path}"
    assert _run("db", "upgrade", "--db", url, cwd=tmp_path).returncode == 0
    return f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true"


@pytest.mark.parametrize("command", ["run", "console", "ingest", "db upgrade", "backfill"])
def test_a_read_only_database_is_refused_at_start(tmp_path, command):
    url = _read_only_url(tmp_path)
    args = _commands(tmp_path)[command]
    result = _run(*args, "--db", url, "--config", str(_offline_config(tmp_path)),
                  stdin="/watches\n", cwd=tmp_path, timeout=30)
    assert_one_line(result, "pw.db is read-only")


def test_check_config_does_not_call_a_read_only_database_ok(tmp_path):
    result = _run("check-config", "--db", _read_only_url(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert "is read-only" in result.stdout and "configuration: ok" not in result.stdout


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files")
def test_a_read_only_database_file_is_refused_at_start(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}"
    assert _run("db", "upgrade", "--db", url, cwd=tmp_path).returncode == 0
    (tmp_path / "pw.db").chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        result = _run("console", "--db", url, stdin="/watches\n", cwd=tmp_path)
    finally:
        tmp_path.chmod(0o755)
    assert_one_line(result, "pw.db")


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "bot", "check-config"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # `paperwatch check-config | head -0`
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) != 0
    assert "Traceback" not in err and "BrokenPipeError" not in err
