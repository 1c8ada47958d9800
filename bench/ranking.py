"""Bench: personal ranking with 100,000 stored papers and 10,000 people who gave feedback.

Papers are synthesized from the real abstracts bundled with the repository
(bench/data/abstracts.jsonl, bot/data/sample_papers.jsonl, and ../shared/data's Hugging Face
captures when present): sentences of real abstracts in which about a third of the content
words are swapped for the words of one of 60 topics (real words plus made-up long-tail
terms, Zipf-weighted), so that the vocabulary is arXiv-sized and topics are learnable.
Everything goes through the real storage: the papers are stored in a SQLite file with
`repo.insert_new_papers`, the marks with `feedback.set_feedback_many`, and the service reads
both back from there (its fit, training and day's candidates all come from the database).
The last `--day` papers are "today's" (first seen within the last day).

People like 3-20 papers of one or two topics and dislike 0-5 others.

Figures, each with a brute-force baseline timed in the same run on a sample and scaled:
  fit        the tf-idf space over all stored papers (read from the DB + fit + transform)
             vs a pure-Python tf-idf (Counter per paper) on a sample
  train      one person's model (median, p95, max over a sample) vs arxiv-sanity-lite's
             own recipe (the SVM trained against every stored paper); and all people
  score      the day's papers for every person (the /foryou pick of all of them, in a
             worker thread) vs a per-person per-paper Python loop on a sample; the largest
             event-loop stall seen meanwhile by a 10 ms heartbeat
  more_like  one paper against the whole archive (median, p95 through the service,
             DB check included) vs a pure-Python cosine loop on a sample
  memory     peak resident set size of the whole run

    python -m bench.ranking                          # 100,000 papers, 10,000 people
    python -m bench.ranking --papers 2000 --people 50   # a smoke run (tests run it)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import random
import re
import resource
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bot.ranking import person_model
from bot.ranking.service import RankingService
from bot.ranking.types import DISLIKE, LIKE, Person, PersonMark
from bot.ranking.vectors import PaperSpace
from bot.types import Paper
from storage import db, repo
from storage import feedback as fb

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "bench/data/abstracts.jsonl", ROOT / "bot/data/sample_papers.jsonl",
           ROOT.parent / "shared/data/daily_papers_page.jsonl"]
CAPTURES = sorted((ROOT.parent / "shared/data/real").glob("hf_daily_papers_*.json"))
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TOPICS = 60
WORD = re.compile(r"[A-Za-z][A-Za-z-]{2,}")
STOP = frozenset("""the and for with that this from are our which can these their its into
also such than they have has been more when where while both using based show paper
propose proposed method methods approach results model models however across between
over other each only through without within them those there then thus very well""".split())  # noqa: SIM905


# --- synthetic corpus ---------------------------------------------------------------------


def _real_abstracts() -> list[str]:
    texts = []
    for path in SOURCES:
        if path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    item = json.loads(line)
                    texts.append(f"{item.get('title', '')}. {item.get('summary', '')}")
    for path in CAPTURES:
        for item in json.loads(path.read_text()):
            paper = item.get("paper", item)
            texts.append(f"{paper.get('title', '')}. {paper.get('summary', '')}")
    return [t for t in texts if len(t) > 200]


@dataclass
class Corpus:
    sentences: list[list[str]]
    topics: list[tuple[list[str], list[float]]]  # words and cumulative weights per topic
    tail: list[str]


def build_corpus(rng: random.Random) -> Corpus:
    abstracts = _real_abstracts()
    sentences = [s.split() for a in abstracts for s in re.split(r"(?<=[.!?])\s+", a)
                 if len(s.split()) >= 6]
    counts = Counter(w.lower() for a in abstracts for w in WORD.findall(a)
                     if w.lower() not in STOP)
    real = [w for w, _ in counts.most_common()]
    # made-up long-tail terms (what real arXiv has plenty of: names of methods, datasets)
    stems = [w for w in real if len(w) >= 5]
    made = sorted({a[:len(a) // 2 + 1] + b[len(b) // 2:] for a, b in
                   ((rng.choice(stems), rng.choice(stems)) for _ in range(120_000))})
    rng.shuffle(made)
    topics = []
    for t in range(TOPICS):
        words = rng.sample(real[:3000], 40) + made[t * 400:(t + 1) * 400]
        weights = list(np.cumsum([1 / (i + 1) ** 0.9 for i in range(len(words))]))
        topics.append((words, weights))
    return Corpus(sentences, topics, made[TOPICS * 400:])


def synth_paper(corpus: Corpus, rng: random.Random, index: int, topic: int) -> Paper:
    words, cum = corpus.topics[topic]

    def topic_word() -> str:
        return rng.choices(words, cum_weights=cum)[0]

    title = " ".join([topic_word() for _ in range(rng.randint(3, 6))]
                     + rng.choice(corpus.sentences)[:rng.randint(2, 5)])
    body: list[str] = []
    for _ in range(rng.randint(5, 8)):
        for w in rng.choice(corpus.sentences):
            roll = rng.random()
            if roll < 0.33 and WORD.fullmatch(w.strip(".,;:()")):
                body.append(topic_word())
            elif roll < 0.36:
                body.append(rng.choice(corpus.tail))
            else:
                body.append(w)
    return Paper(f"bench.{index:06d}", title.capitalize(), " ".join(body),
                 categories=("cs.LG",), source="bench")


def topic_of(index: int, rng: random.Random) -> int:
    return min(int(rng.paretovariate(0.8)) - 1, TOPICS - 1) if rng.random() < 0.5 \
        else rng.randrange(TOPICS)


# --- storing through the real storage -------------------------------------------------


async def store_papers(sessions: Any, corpus: Corpus, n: int, day: int,
                       rng: random.Random) -> list[int]:
    """Store n papers, the last `day` of them first seen today; returns each one's topic."""
    topics = [topic_of(i, rng) for i in range(n)]
    archive_days = 60
    chunks = [(start, min(n - day, start + 2000)) for start in range(0, n - day, 2000)]
    chunks += [(start, min(n, start + 2000)) for start in range(n - day, n, 2000)]
    for start, end in chunks:
        batch = [synth_paper(corpus, rng, i, topics[i]) for i in range(start, end)]
        if start >= n - day:
            seen = NOW - timedelta(hours=2)
        else:
            seen = NOW - timedelta(days=archive_days * (1 - start / max(1, n - day)) + 1)
        async with sessions.begin() as session:
            await repo.insert_new_papers(session, batch, seen)
    return topics


async def store_people(sessions: Any, topics: list[int], people: int,
                       rng: random.Random) -> dict[Person, set[int]]:
    """People with one or two favourite topics: 3-20 likes there, 0-5 dislikes elsewhere."""
    by_topic: dict[int, list[int]] = {}
    for i, t in enumerate(topics):
        by_topic.setdefault(t, []).append(i)
    common = [t for t, items in by_topic.items() if len(items) >= 25]
    tastes: dict[Person, set[int]] = {}
    marks: list[PersonMark] = []
    for p in range(people):
        person = Person("bench", str(100_000 + p))
        liked_topics = set(rng.sample(common, min(len(common), rng.choice((1, 1, 2)))))
        tastes[person] = liked_topics
        pool = [i for t in liked_topics for i in by_topic[t]]
        for i in rng.sample(pool, min(len(pool), rng.randint(3, 20))):
            marks.append(PersonMark(person, f"bench.{i:06d}", LIKE))
        for _ in range(rng.randint(0, 5)):
            i = rng.randrange(len(topics))
            if topics[i] not in liked_topics:
                marks.append(PersonMark(person, f"bench.{i:06d}", DISLIKE))
    for start in range(0, len(marks), 20_000):
        async with sessions.begin() as session:
            await fb.set_feedback_many(session, marks[start:start + 20_000], NOW)
    return tastes


# --- baselines --------------------------------------------------------------------------


def python_tfidf(texts: Sequence[str]) -> list[dict[str, float]]:
    """The brute-force fit: Counter per paper, document frequencies, idf, unit length."""
    docs = [Counter(w.lower() for w in WORD.findall(t)) for t in texts]
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(doc.keys())
    n = len(docs)
    out = []
    for doc in docs:
        vec = {w: (1 + math.log(c)) * (math.log((1 + n) / (1 + df[w])) + 1)
               for w, c in doc.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        out.append({w: v / norm for w, v in vec.items()})
    return out


def dict_rows(space: PaperSpace, rows: Sequence[int]) -> list[dict[int, float]]:
    m = space.matrix
    return [dict(zip(m.indices[m.indptr[r]:m.indptr[r + 1]].tolist(),
                     m.data[m.indptr[r]:m.indptr[r + 1]].tolist(), strict=True)) for r in rows]


def python_dot(a: dict[int, float], b: dict[int, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(k, 0.0) for k, v in a.items())


# --- measuring --------------------------------------------------------------------------


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class LoopWatch:
    """A 10 ms heartbeat on the event loop: the longest it waited is the worst stall. It
    also records the longest garbage-collector pass meanwhile: a full pass stops every
    thread, the event loop's too, whatever the worker thread does."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.worst_gc = 0.0
        self._gc_start = 0.0
        self._task: asyncio.Task | None = None

    async def _beat(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.perf_counter() - start - 0.01)

    def _gc(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.worst_gc = max(self.worst_gc, time.perf_counter() - self._gc_start)

    def __enter__(self) -> LoopWatch:
        self._task = asyncio.get_running_loop().create_task(self._beat())
        gc.callbacks.append(self._gc)
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        gc.callbacks.remove(self._gc)

    def note(self) -> str:
        return (f"loop stall max {self.worst * 1000:.0f} ms "
                f"(longest GC pass {self.worst_gc * 1000:.0f} ms)")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def row(name: str, ours: str, baseline: str, ratio: float | None, note: str = "") -> None:
    shown = f"{ratio:,.0f}x" if ratio is not None and ratio >= 10 else (
        f"{ratio:.1f}x" if ratio is not None else "-")
    print(f"| {name} | {ours} | {baseline} | {shown} | {note} |", flush=True)


async def run(args: argparse.Namespace) -> dict[str, float]:
    rng = random.Random(args.seed)
    corpus = build_corpus(rng)
    workdir = Path(args.db_dir or tempfile.mkdtemp(prefix="pw-bench-ranking-"))
    engine = db.create_engine(f"sqlite+aiosqlite:///{workdir / 'ranking.db'}")
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    results: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        topics = await store_papers(sessions, corpus, args.papers, args.day, rng)
        tastes = await store_people(sessions, topics, args.people, rng)
        print(f"stored {args.papers:,} papers and the marks of {args.people:,} people in "
              f"{time.perf_counter() - t0:.1f} s (SQLite file {workdir / 'ranking.db'}); "
              f"RSS {rss_mb():.0f} MB", flush=True)
        if args.gc_freeze:
            # what a long-running server does after start-up: the objects of the imports and
            # the set-up are never garbage, and a full collection over them (about 150 ms
            # here, in any thread) would show up as an event-loop stall of its own
            gc.collect()
            gc.freeze()
        print("\n| figure | ours | brute-force baseline | ratio | note |")
        print("|---|---|---|---|---|")
        service = RankingService(sessions)

        # fit: read every stored paper and fit the space
        start = time.perf_counter()
        async with sessions() as session:
            count, read = 0, await fb.paper_texts(session, None, 20_000)
            while read:
                count += len(read)
                read = await fb.paper_texts(session, (read[-1].first_seen, read[-1].id), 20_000)
        read_s = results["read_s"] = time.perf_counter() - start
        del read
        start = time.perf_counter()
        space = await service.space()
        assert space is not None
        fit_s = results["fit_s"] = time.perf_counter() - start
        sample = [f"{p.title}\n{p.summary}" for p in
                  (synth_paper(corpus, random.Random(i), i, i % TOPICS) for i in range(2000))]
        base_s, _ = timed(lambda: python_tfidf(sample))
        base_fit = base_s * args.papers / len(sample)
        row("fit tf-idf (DB read + fit + transform)", f"{fit_s:.1f} s", f"{base_fit:.1f} s "
            f"(pure Python on 2,000, x{args.papers / 2000:g})", base_fit / fit_s,
            f"DB read {read_s:.1f} s of it; {len(space):,} papers, {space.n_features:,} words, "
            f"{space.matrix.nnz / len(space):.0f} per paper")

        # one person's training, then everyone's
        everyone = list(tastes)
        async with sessions() as session:
            marks = await fb.feedback_of_many(session, everyone[:200])
        samples = []
        for person in everyone[:200]:
            pairs = list(marks[person])
            elapsed, _ = timed(lambda pairs=pairs, person=person:
                               person_model.train(space, person.key(), pairs))
            samples.append(elapsed)
        samples.sort()
        median = statistics.median(samples)
        results["train_one_ms"] = median * 1000
        results["train_one_p95_ms"] = samples[int(len(samples) * 0.95) - 1] * 1000
        full = person_model.TrainSettings(negatives=len(space))  # arxiv-sanity: all papers
        pairs = list(marks[everyone[0]])
        base_one, _ = timed(lambda: person_model.train(space, "x", pairs, full))
        row("train one person", f"{median * 1000:.1f} ms median, "
            f"{results['train_one_p95_ms']:.1f} p95, {samples[-1] * 1000:.1f} max",
            f"{base_one * 1000:.0f} ms (SVM vs all {len(space):,} papers)", base_one / median,
            f"{person_model.TrainSettings().negatives} sampled negatives")
        start = time.perf_counter()
        with LoopWatch() as watch:
            models = await service.train_many()
        train_all = results["train_all_s"] = time.perf_counter() - start
        trained = [m for m in models.values() if m is not None]
        row("train all people", f"{train_all:.1f} s", f"{base_one * len(trained):,.0f} s "
            f"(x{len(trained):,})", base_one * len(trained) / train_all,
            f"{len(trained):,} models, {sum(len(m.features) for m in trained):,} weights; "
            + watch.note())

        # the day's papers for everyone
        since = NOW - timedelta(days=1)
        async with sessions() as session:
            day_ids = await fb.paper_ids_since(session, since)
        exclude = {p: set(rng.sample(day_ids, min(5, len(day_ids)))) for p in everyone}
        start = time.perf_counter()
        with LoopWatch() as watch:
            picks = await service.for_you_many(exclude, since, k=5)
        score_s = results["score_all_s"] = time.perf_counter() - start
        results["score_loop_stall_ms"] = watch.worst * 1000
        day_rows = [r for pid in day_ids if (r := space.row_of(pid)) is not None]
        day_dicts = dict_rows(space, day_rows)
        few = trained[:20]
        base_s, _ = timed(lambda: [[python_dot({int(f): float(w) for f, w in
                                                zip(m.features, m.weights, strict=True)}, d)
                                    for d in day_dicts] for m in few])
        base_score = base_s * len(trained) / len(few)
        hits = [(p, pick) for p, got in picks.items() for pick in got.picks]
        on_topic = sum(topics[int(pick.paper_id.split(".")[1])] in tastes[p] for p, pick in hits)
        row(f"score {len(day_rows):,} papers for all people", f"{score_s:.1f} s",
            f"{base_score:,.0f} s (Python loop on 20 people, x{len(trained) / 20:,.0f})",
            base_score / score_s,
            f"{watch.note()}; {len(hits):,} picks, "
            f"{on_topic / max(1, len(hits)):.0%} in the person's topics")

        # more like this
        ids = rng.sample(space.ids, min(200, len(space)))
        latencies = []
        on_topic = total = 0
        for pid in ids:
            start = time.perf_counter()
            found = await service.more_like(pid)
            latencies.append(time.perf_counter() - start)
            want = topics[int(pid.split(".")[1])]
            on_topic += sum(topics[int(i.paper_id.split(".")[1])] == want for i in found.items)
            total += len(found.items)
        latencies.sort()
        results["more_like_ms"] = statistics.median(latencies) * 1000
        results["more_like_p95_ms"] = latencies[int(len(latencies) * 0.95) - 1] * 1000
        probe = dict_rows(space, [0])[0]
        some = dict_rows(space, range(min(5000, len(space))))
        base_s, _ = timed(lambda: sorted((python_dot(probe, d), i)
                                         for i, d in enumerate(some))[-6:])
        base_more = base_s * len(space) / len(some)
        row(f"more_like over {len(space):,} papers", f"{results['more_like_ms']:.1f} ms median, "
            f"{results['more_like_p95_ms']:.1f} p95", f"{base_more * 1000:,.0f} ms (Python cosine "
            f"loop on {len(some):,}, x{len(space) / len(some):g})",
            base_more * 1000 / results["more_like_ms"],
            f"{on_topic / max(1, total):.0%} of neighbours share the topic")
        results["peak_rss_mb"] = peak_rss_mb()
        row("peak RSS (whole run)", f"{results['peak_rss_mb']:,.0f} MB", "-", None,
            f"now {rss_mb():,.0f} MB; {len(service._models):,} cached models")
        return results
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--day", type=int, default=2_000, help="papers first seen today")
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--db-dir", help="where the SQLite file goes (default: a temp dir)")
    parser.add_argument("--no-gc-freeze", dest="gc_freeze", action="store_false",
                        help="leave the set-up objects to the garbage collector's full passes")
    args = parser.parse_args(argv)
    args.day = min(args.day, args.papers // 2)
    return asyncio.run(run(args))


if __name__ == "__main__":
    main()
