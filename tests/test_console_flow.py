"""The demo flow and the core commands, driven through the real console adapter on a real
database file."""

from __future__ import annotations

from storage.models import PaperRow
from tests.helpers import paper_item, write_jsonl


async def test_demo_flow_alerts_with_title_link_excerpt_and_why(console, app):
    reply = await console.push("/watch federated learning")
    assert "Watching “federated learning”" in reply
    published = await console.push("/publish")
    assert "26 match your watches" in published
    assert len(console.sent) == 1  # 26 hits coalesce into one message
    text = console.sent[0].body.plain()
    assert text.startswith("26 new papers match your watches")
    assert "Tackling Data Heterogeneity in Federated Learning via Loss Decomposition" in text
    assert "“Federated Learning” in title and abstract" in text  # as the paper wrote it
    links = [s.link for line in console.sent[0].body.lines for s in line if s.link]
    assert len(links) == 26 and all(link.startswith(("https://huggingface.co/papers?q=",
                                                     "https://arxiv.org/abs/")) for link in links)
    assert max(len(link) for link in links) < 100  # the paper's page, not its whole title
    assert "26 hits" in await console.push("/watches")
    again = await console.push("/publish")
    assert "published already" in again and len(console.sent) == 1


async def test_demo_list_bolds_the_matched_words_in_the_excerpts(console):
    await console.push("/watch diffusion transformer")
    assert "2 match your watches" in await console.push("/publish")
    [message] = console.sent
    excerpts = [line for line in message.body.lines[1:] if not line[0].text[:1].isdigit()]
    assert excerpts  # a short list keeps its authors and excerpts
    bold = {s.text.lower() for line in excerpts for s in line if s.bold}
    assert bold & {"diffusion transformer", "diffusion transformers"}


async def test_single_hit_is_a_full_alert_with_buttons(console, tmp_path):
    await console.push("/watch diffusion transformer")
    path = write_jsonl(tmp_path / "p.jsonl", [
        paper_item("2601.00001", "Scaling a Diffusion Transformer", "We study a diffusion "
                   "transformer at scale. " * 30, authors=["A One", "B Two", "C Three", "D Four"],
                   upvotes=42),
        paper_item("2601.00002", "Something else", "Nothing to see."),
    ])
    out = await console.push(f"/ingest {path}")
    assert "2 new" in out and "1 alert queued" in out
    assert len(console.sent) == 1
    message = console.sent[0]
    text = message.body.plain()
    assert "Scaling a Diffusion Transformer" in text
    assert "A One, B Two, C Three et al." in text
    assert "▲ 42 upvotes" in text and "Why: “Diffusion Transformer” in title and abstract" in text
    assert len(text) < 1200  # the abstract is an excerpt, not the whole text
    assert [b.command for b in message.buttons] == ["/unwatch #1", "/mute 24h"]


async def test_no_duplicates_no_backfill_and_versions_fold(console, tmp_path):
    await console.push("/watch graph neural network")
    first = write_jsonl(tmp_path / "a.jsonl", [paper_item("2601.00010v1", "A graph neural network")])
    await console.push(f"/ingest {first}")
    assert len(console.sent) == 1
    await console.push(f"/ingest {first}")  # the same file again
    newer = write_jsonl(tmp_path / "b.jsonl", [paper_item("2601.00010v2", "A graph neural network v2")])
    out = await console.push(f"/ingest {newer}")
    assert "0 new, 1 updated" in out
    # not a second alert: one follow-up, since v2 changed the title (issue 16)
    assert len(console.sent) == 2
    assert "A graph neural network v2" in console.sent[1].body.plain()
    await console.push(f"/ingest {newer}")
    assert len(console.sent) == 2
    # a watch added after the paper was ingested does not alert on it
    await console.push("/watch graph")
    await console.push(f"/ingest {first}")
    assert len(console.sent) == 2


async def test_two_watches_hitting_one_paper_make_one_delivery(console, tmp_path):
    await console.push("/watch federated learning")
    await console.push("/watch heterogeneous data")
    path = write_jsonl(tmp_path / "a.jsonl", [
        paper_item("2601.00020", "Federated learning on heterogeneous data")])
    await console.push(f"/ingest {path}")
    assert len(console.sent) == 1
    text = console.sent[0].body.plain()
    assert "“Federated learning” in title" in text and "“heterogeneous data” in title" in text
    assert [b.command for b in console.sent[0].buttons] == ["/mute 24h"]


async def test_bad_items_are_refused_by_line_and_good_ones_kept(console, tmp_path):
    await console.push("/watch robotics")
    path = write_jsonl(tmp_path / "mixed.jsonl", [
        paper_item("2601.00030", "Robotics one"),
        "{not json",
        {"title": "no id"},
        paper_item("not-an-id", "Robotics bad id"),
        paper_item("2601.00031", "Robotics dated", published="3024-01-01"),
        {"paper": {"id": "2601.00032", "title": "Robotics from HF", "upvotes": 7,
                   "authors": [{"name": "Jane Doe"}]}},
        [1, 2],
    ])
    out = await console.push(f"/ingest {path}")
    assert "2 new" in out
    for expected in ("line 2: not valid JSON", "line 3: missing id", "line 4: id 'not-an-id'",
                     "line 5: date '3024-01-01' is out of range", "line 7: not a JSON object"):
        assert expected in out
    assert len(console.sent) == 1 and "Robotics from HF" in console.sent[0].body.plain()


async def test_ingest_of_a_missing_or_broken_file_says_so(console, tmp_path):
    assert "Can't read" in await console.push(f"/ingest {tmp_path / 'nope.json'}")
    broken = tmp_path / "broken.json"
    broken.write_text('[{"id": "2601.00001", "title": "x"}, ')
    assert "not valid JSON" in await console.push(f"/ingest {broken}")
    assert "Usage: /ingest" in await console.push("/ingest")


async def test_mute_holds_alerts_and_unmute_sends_them_as_one(console, app, clock, tmp_path):
    await console.push("/watch quantum")
    assert "Muted until" in await console.push("/mute 2h")
    path = write_jsonl(tmp_path / "q.jsonl", [paper_item(f"2601.0010{i}", f"Quantum thing {i}")
                                              for i in range(3)])
    await console.push(f"/ingest {path}")
    assert console.sent == []
    assert "pending: 3" in await console.push("/status")
    out = await console.push("/unmute")
    assert "3 waiting alerts arrive now" in out
    assert len(console.sent) == 1 and console.sent[0].body.plain().startswith("3 new papers")


async def test_mute_expires_by_itself(console, app, clock, tmp_path):
    await console.push("/watch quantum")
    await console.push("/mute 30m")
    await console.push(f"/ingest {write_jsonl(tmp_path / 'q.jsonl', [paper_item('2601.00200', 'Quantum')])}")
    assert console.sent == []
    clock.advance(minutes=31)
    await app.flush_deliveries()
    assert len(console.sent) == 1


async def test_watch_preview_counts_recent_stored_papers(console, clock, tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [paper_item(f"2601.0030{i}", f"Video diffusion {i}",
                                                         upvotes=i) for i in range(5)])
    await console.push(f"/ingest {path}")
    reply = await console.push("/watch video diffusion")
    assert "would have matched 5 papers" in reply
    assert reply.index("Video diffusion 4") < reply.index("Video diffusion 3")
    assert "Video diffusion 1" not in reply  # top three only
    assert console.sent == []  # a preview sends no alerts
    clock.advance(days=8)
    assert "No stored paper of the last 7 days" in await console.push("/watch diffusion")


async def test_watch_preview_reads_the_papers_again_only_when_they_changed(app, console, clock,
                                                                          tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [paper_item("2601.00401", "Sparse attention")])
    await console.push(f"/ingest {path}")
    assert "would have matched 1 paper" in await console.push("/watch sparse attention")
    assert "would have matched 1 paper" in await console.push("/watch attention")
    assert app.commands.recent.loads == 1  # nothing changed: the second /watch reused them
    more = write_jsonl(tmp_path / "q.jsonl", [paper_item("2601.00402", "Sparse attention, too")])
    await console.push(f"/ingest {more}")
    assert "would have matched 2 papers" in await console.push("/watch sparse")
    assert app.commands.recent.loads == 2
    async with app.sessions.begin() as session:  # an upvote refresh changes the order
        row = await session.get(PaperRow, "2601.00401")
        row.upvotes, row.updated_at = 50, clock()
    reply = await console.push("/watch sparse attention OR sparse")
    assert app.commands.recent.loads == 3
    assert reply.index("• Sparse attention <") < reply.index("• Sparse attention, too <")
