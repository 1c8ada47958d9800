"""The demo as the README shows it (issue 12): the bundled sample carries real ids,
authors and categories where they are known, and every example of the README's tour,
commands and queries sections gives in `paperwatch demo` what the README says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import sample_papers_path
from bot.sources.paper_file import load_papers

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _demo(lines: str) -> str:
    result = subprocess.run([sys.executable, "-m", "bot", "demo"], input=lines, text=True,
                            capture_output=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return result.stdout


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    return README[start:README.index("\n## ", start + 1)]


def test_the_sample_has_real_ids_authors_and_categories():
    papers = load_papers(sample_papers_path()).papers
    real = [p for p in papers if not p.id.startswith("sample-")]
    assert len(real) >= 150
    assert all(re.fullmatch(r"\d{4}\.\d{4,5}", p.id) and p.authors for p in real)
    assert sum(bool(p.categories) for p in real) >= 100
    assert len({p.id for p in papers}) == len(papers)


def test_the_tour_prints_what_the_readme_shows():
    block = _section("A 30-second tour").split("\n    $ ", 1)[1].split("\n\n", 1)
    command, _, shown = (block[0] + "\n\n" + block[1]).partition("\n")
    lines = re.match(r"printf '(.*)' \| paperwatch demo", command).group(1)
    out = _demo(lines.encode().decode("unicode_escape"))
    printed = out.splitlines()
    expected = [line[4:] for line in shown.splitlines() if line.startswith("    ")]
    assert len(expected) > 10
    for line in expected:
        if line != "...":
            assert line in printed, line


def test_the_readme_refusal_examples_print_what_it_shows():
    for title in ("Chat commands", "Watch queries"):
        pairs = re.findall(r"\n    (/[^\n]+)\n    ([^\n/][^\n]*)", _section(title))
        assert pairs, title
        out = _demo("".join(command + "\n" for command, _ in pairs)).splitlines()
        for command, answer in pairs:
            assert answer in out, (command, answer)


@pytest.mark.parametrize("query", [
    "federated learning", "transformer", "re-ranking", "re ranking", "reranking",
    '"diffusion transformer" -survey', "diffusion AND (video OR audio)",
    "ti:diffusion models", 'au:"Hongsheng Li"', "cat:cs.LG", "cat:cs", "quantiz*",
    "diffusion -medical imaging", "mixture of experts",
])
def test_every_readme_query_example_finds_papers_in_the_demo(query):
    assert f"`{query}`" in _section("Watch queries") or query in _section("Watch queries")
    out = _demo(f"/publish\n/watch {query}\n")
    assert re.search(r"would have matched \d+ papers?, e\.g\.:", out), out
