"""The layering contract of pyproject.toml ([tool.importlinter]) bites, and the tree keeps it.

A throwaway core module importing `adapters` or `telegram`, and a throwaway adapter importing
`storage`, are written into a temporary COPY of the package tree (the real tree is never
touched); `lint-imports` run on that copy must name them and report those contracts broken.
The same command on the real tree must report every contract kept. This is what `.ci/run`
runs before the tests, so a core module importing a platform library fails CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "adapters", "storage")
CORE = "The core never imports an adapter, a platform library or the wiring"
ADAPTERS = "Adapters never import storage, SQL or the wiring"
ORM = "ORM classes stay in storage: the core gets domain types from storage.repo"
WIRING = {"bot.app", "bot.cli", "bot.__main__"}


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` (no cache: nothing is written into `cwd`) with `cwd` first on the path."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) \
        or shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports is not installed (it is in the test extra)")
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([exe, "--no-cache", "--no-logo"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _copy_tree(dest: Path) -> None:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, dest / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")


def test_every_core_module_is_under_the_core_contracts() -> None:
    """A new module in bot/ left out of the lists would escape the contract unseen."""
    contracts = {c["name"]: c for c in tomllib.loads(
        (ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]}
    top_level = {f"bot.{p.stem}" for p in (ROOT / "bot").glob("*.py") if p.stem != "__init__"}
    top_level |= {f"bot.{p.parent.name}" for p in (ROOT / "bot").glob("*/__init__.py")}
    core = top_level - WIRING
    assert {"bot.watching", "bot.sources", "bot.types"} <= core
    for name in (CORE, ORM):
        listed = set(contracts[name]["source_modules"])
        assert core <= listed, f"{name}: not listed: {sorted(core - listed)}"
        assert not WIRING & listed


def test_real_tree_keeps_every_contract() -> None:
    result = _lint_imports(ROOT)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert f"{CORE} KEPT" in out
    assert f"{ADAPTERS} KEPT" in out
    assert " 0 broken" in out and "BROKEN" not in out


def test_contract_breaks_when_core_imports_an_adapter_or_a_platform_library(
        tmp_path: Path) -> None:
    _copy_tree(tmp_path)
    (tmp_path / "bot" / "watching" / "throwaway_adapter_import.py").write_text(
        '"""Throwaway: a core module importing an adapter."""\n'
        "import adapters.console  # noqa: F401\n")
    (tmp_path / "bot" / "delivery" / "throwaway_platform_import.py").write_text(
        '"""Throwaway: a core module importing a platform library."""\n'
        "import telegram  # noqa: F401\n")
    (tmp_path / "adapters" / "throwaway_storage_import.py").write_text(
        '"""Throwaway: an adapter importing storage."""\n'
        "from storage import repo  # noqa: F401\n")

    result = _lint_imports(tmp_path)
    out = result.stdout + result.stderr

    assert result.returncode != 0, out
    assert f"{CORE} BROKEN" in out
    assert f"{ADAPTERS} BROKEN" in out
    assert "bot.watching.throwaway_adapter_import -> adapters.console" in out
    assert "bot.delivery.throwaway_platform_import -> telegram" in out
    assert "adapters.throwaway_storage_import -> storage" in out
    assert not (ROOT / "bot" / "watching" / "throwaway_adapter_import.py").exists()
