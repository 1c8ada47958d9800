"""/export's BibTeX: every paper comes back from a real BibTeX parser with its title, authors,
year, arXiv id and URL, also when titles carry TeX specials, maths and stray braces."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import bibtexparser
import pytest

from bot.export.bibtex import bibtex_file, tex_text
from bot.types import Paper

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def _parse(text: str) -> dict[str, dict[str, str]]:
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks, [b.error for b in library.failed_blocks]
    return {e.fields_dict["eprint"].value: {k: f.value for k, f in e.fields_dict.items()}
            for e in library.entries}


def _real_papers() -> list[Paper]:
    papers = []
    for path in sorted(REAL.glob("hf_daily_papers_*.json")):
        for item in json.loads(path.read_text()):
            raw = item["paper"]
            papers.append(Paper(
                id=raw["id"], title=" ".join(raw["title"].split()),
                authors=tuple(a["name"] for a in raw["authors"]),
                published=datetime.fromisoformat(raw["publishedAt"].replace("Z", "+00:00"))))
    return papers


def _unbrace(value: str) -> str:
    return value.removeprefix("{").removesuffix("}")


def test_every_real_paper_round_trips_through_a_bibtex_parser():
    papers = _real_papers()
    assert len(papers) > 50
    entries = _parse(bibtex_file(papers))
    assert set(entries) == {p.id for p in papers}
    for paper in papers:
        got = entries[paper.id]
        assert _unbrace(got["title"]) == tex_text(paper.title)
        assert got["author"].split(" and ") == [tex_text(a) for a in paper.authors]
        assert got["year"] == str(paper.published.year)
        assert got["url"] == f"https://arxiv.org/abs/{paper.id}"
        assert got["archivePrefix"] == "arXiv"


@pytest.mark.parametrize(("title", "expected"), [
    ("Stain (H&E) images at 100% scale", r"Stain (H\&E) images at 100\% scale"),
    (r"Bounds for $\frac{1}{3}<s<1$ and snake_case", r"Bounds for $\frac{1}{3}<s<1$ and snake\_case"),
    ("A stray { brace", "A stray  brace"),
    ("Schrödinger bridges } closed", "Schrödinger bridges  closed"),
    ("Issue #5: tabs\tand\x1b[2J escapes", r"Issue \#5: tabs and[2J escapes"),
])
def test_awkward_titles_stay_parseable_and_readable(title, expected):
    paper = Paper(id="2411.18391", title=title, authors=("Ada Lovelace", "Kurt Gödel"),
                  categories=("cs.LG",), published=datetime(2024, 11, 28, tzinfo=UTC))
    text = bibtex_file([paper, Paper(id="2411.00001", title="Next entry survives")])
    entries = _parse(text)
    assert _unbrace(entries["2411.18391"]["title"]) == expected
    assert entries["2411.18391"]["author"] == "Ada Lovelace and Kurt Gödel"
    assert entries["2411.18391"]["primaryClass"] == "cs.LG"
    assert _unbrace(entries["2411.00001"]["title"]) == "Next entry survives"


def test_a_paper_seen_twice_is_one_entry_and_keys_are_unique():
    a = Paper(id="2411.18391", title="One", authors=("Jane Doe",),
              published=datetime(2024, 11, 28, tzinfo=UTC))
    b = Paper(id="2411.18392", title="Two", authors=("Jane Doe",),
              published=datetime(2024, 11, 28, tzinfo=UTC))
    library = bibtexparser.parse_string(bibtex_file([a, b, a]))
    keys = [e.key for e in library.entries]
    assert len(keys) == 2 and len(set(keys)) == 2
