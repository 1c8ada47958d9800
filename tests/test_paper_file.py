"""`load_papers`: the file format is found by parsing (a list, {"items": [...]}, one object,
JSON Lines), a broken document stores nothing, an unreadable file raises PaperFileError,
and HF items follow the poller's rules (one reader)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.sources.paper_file import PaperFileError, load_papers
from tests.fakes.hf_api import HF_FIXTURE, fixture_items, hf_item

DEEP = "[" * 100_000 + "]" * 100_000


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def flat(paper_id: str, title: str, **extra: object) -> dict[str, object]:
    return {"id": paper_id, "title": title, "summary": f"About {title}.",
            "authors": ["Ada Lovelace"], "categories": ["cs.LG"],
            "published": "2025-08-20T00:00:00Z", **extra}


def test_a_pretty_printed_items_object_is_one_document_not_json_lines():
    report = load_papers(HF_FIXTURE)  # {"_note", "date", "items": [70 items, one a line]}
    assert report.errors == [] and len(report.papers) == 70
    assert [p.id for p in report.papers] == [f"2508.{13500 + n}" for n in range(70)]


def test_a_pretty_printed_list_and_a_single_object(tmp_path):
    items = [flat("2601.00001", "One"), hf_item("2601.00002", "Two", 4)]
    listed = load_papers(write(tmp_path / "list.json", json.dumps(items, indent=2)))
    assert [p.id for p in listed.papers] == ["2601.00001", "2601.00002"] and not listed.errors
    single = load_papers(write(tmp_path / "one.json", json.dumps(items[1], indent=4)))
    assert [(p.id, p.upvotes, p.source) for p in single.papers] == [("2601.00002", 4, "hf")]
    one_line = load_papers(write(tmp_path / "line.json", json.dumps({"items": items})))
    assert len(one_line.papers) == 2


def test_a_broken_pretty_printed_document_stores_no_fragment(tmp_path):
    text = json.dumps({"items": fixture_items()[:10]}, indent=1)
    # items on one line each would parse alone: a missing bracket must not make them papers
    broken = text.replace('"items": [', '"items": ', 1)
    assert sum(1 for line in broken.splitlines() if line.strip().startswith("{")) >= 10
    report = load_papers(write(tmp_path / "broken.json", broken))
    assert report.papers == []
    assert len(report.errors) == 1 and "not valid JSON" in report.errors[0]
    assert "nothing stored" in report.errors[0]


def test_json_lines_keep_good_lines_and_refuse_bad_ones(tmp_path):
    lines = [json.dumps(flat("2601.00010", "Good one")), "{not json",
             json.dumps(hf_item("2601.00011", "Good two")), DEEP,
             json.dumps({"id": "2601.00012", "title": "Huge", "upvotes": 10**30}),
             "1" * 5000, json.dumps(flat("2601.00013", "Good three"))]
    report = load_papers(write(tmp_path / "mixed.jsonl", "\n".join(lines)))
    assert [p.id for p in report.papers] == ["2601.00010", "2601.00011", "2601.00013"]
    assert report.errors[0].startswith("line 2: not valid JSON")
    assert "line 4: nested too deeply" in report.errors
    assert "line 5: upvotes ~10**30 is out of range (id 2601.00012)" in report.errors
    assert any(e.startswith("line 6: not valid JSON") for e in report.errors)


def test_one_deeply_nested_value_is_one_bad_item(tmp_path):
    report = load_papers(write(tmp_path / "deep.json", DEEP))
    assert report.papers == [] and report.errors == ["item 1: nested too deeply"]


def test_the_same_rules_as_the_poller_for_hf_items(tmp_path):
    withdrawn = hf_item("2601.00020", "Withdrawn", -3, withdrawnAt="2025-08-21T00:00:00Z")
    negative = hf_item("2601.00021", "Negative", -3)
    spaced = hf_item("2601.00022", "  Spaced\n title ", 2, projectPage=" https://x.example/p ")
    spaced["mediaUrl"] = "https://cdn.example/t.png"
    report = load_papers(write(tmp_path / "hf.json", json.dumps([withdrawn, negative, spaced])))
    assert report.errors == ["item 1: withdrawn (id 2601.00020)",
                             "item 2: upvotes -3 is not a count (id 2601.00021)"]
    (paper,) = report.papers
    assert (paper.title, paper.project_url, paper.thumbnail_url) == (
        "Spaced title", "https://x.example/p", "https://cdn.example/t.png")


def test_outside_text_is_cleaned(tmp_path):
    item = flat("2601.00030", "Clear\u001b[2J screen\u0007\x08 and\u0000 \ud800NUL",
                summary="a\tb\n\nc\u0085d\u009bz", authors=["Bad\u0000 Name", "\u001b", 7])
    path = tmp_path / "dirty.json"
    path.write_bytes(json.dumps([item]).encode())  # json escapes the surrogate as \\ud800
    (paper,) = load_papers(path).papers
    assert paper.title == "Clear[2J screen and NUL"
    assert paper.summary == "a b c dz" and paper.authors == ("Bad Name",)


def test_bom_invalid_utf8_and_empty_files(tmp_path):
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps([flat("2601.00040", "Bom")]).encode())
    assert [p.id for p in load_papers(bom).papers] == ["2601.00040"]
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(json.dumps(flat("2601.00041", "Caf\u00e9")).encode().replace(
        b"\\u00e9", b"\xe9"))
    assert load_papers(bad).papers[0].title == "Caf\ufffd"
    assert load_papers(write(tmp_path / "empty.json", "  \n")).errors == ["the file is empty"]


@pytest.mark.parametrize("make", [lambda p: p / "missing.json", lambda p: p])
def test_a_file_that_cannot_be_read_raises(tmp_path, make):
    with pytest.raises(PaperFileError) as raised:
        load_papers(make(tmp_path))
    assert str(raised.value) == f"can't read {make(tmp_path)}: {raised.value.strerror}"
    assert raised.value.strerror in ("No such file or directory", "Is a directory")
    assert isinstance(raised.value, OSError)  # callers catching OSError keep working


def test_a_file_over_the_size_cap_raises(tmp_path, monkeypatch):
    monkeypatch.setattr("bot.sources.paper_file.MAX_FILE_BYTES", 10)
    with pytest.raises(PaperFileError, match="larger than"):
        load_papers(write(tmp_path / "big.json", "[" + " " * 20 + "]"))


def test_in_a_list_one_element_too_deep_or_too_big_is_one_bad_item(tmp_path):
    items = [json.dumps(flat("2601.00050", "Before")), DEEP,
             json.dumps(flat("2601.00051", 'Tricky "]}[" title')), "1" * 5000,
             json.dumps(flat("2601.00052", "After"))]
    for separator in (", ", ",\n  "):
        text = "[" + separator.join(items) + "]"
        report = load_papers(write(tmp_path / "list.json", text))
        assert [p.id for p in report.papers] == ["2601.00050", "2601.00051", "2601.00052"]
        assert report.errors[0] == "item 2: nested too deeply"
        assert report.errors[1].startswith("item 4: not valid JSON (Exceeds the limit")
