"""Bench: the matching engine with 10k, 100k and 1M watches against 2,000 papers.

Generates realistic watches from the vocabulary of the bundled real abstracts
(bench/data/abstracts.jsonl, 87 papers): topic phrases of 1-4 words cut from the abstracts,
long-tail combinations of their words, and some with OR, NOT/-, ti:/abs:, au:, cat: and a
trailing *; 200,000 people with 1-9 watches each. Papers are real-sized: sentences of the
real abstracts with about a third of their content words swapped for other words of the
vocabulary (so that word pairs are not all copies of the 87 abstracts), synthetic author
lists and arXiv categories, keywords on some.

For each size it reports: parse time of the query strings, index build time and resident
memory, 2,000 papers matched (normalization and boolean evaluation included) as seconds,
once with a MatchHit per hit (`match_many`, cold and again) and once grouped as the
fan-out takes them (`match_groups`), papers per second grouped, total matches, /watch
and /unwatch time on the full index, and the speed-up over the naive reference
(tests/reference_matcher.py: every watch evaluated against every paper) timed in the same
run on a sample and extrapolated, with a check that both give identical match sets (and
explanations) on that sample.

    python -m bench.matching                  # 10k, 100k, 1M and the 100,000-paper back-fill
    python -m bench.matching --sizes 10000 --backfill 0
    python -m bench.matching --sizes 1000000 --tail 0.9   # 10x fewer matches, same scan
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from bot.types import Paper
from bot.watching.matching import WatchIndex, collector_paused
from bot.watching.query import Query, QueryError, parse
from bot.watching.text import normalize_words
from tests.reference_matcher import reference_match

DATA = Path(__file__).parent / "data"
PEOPLE = 200_000
SEED = 20250820

STOPWORDS = frozenset("""
a about above after again against all also although among an and any are as at be because
been before being below between both but by can could did do does doing down during each
either few for from further had has have having he her here hers herself him himself his how
however i if in into is it its itself just large less may me might more most much must my
new no nor not novel now of off on once only or other our ours ourselves out over own per
propose proposed same several she should show shows since so some such than that the their
theirs them themselves then there these they this those through thus to too under until up
upon us use used using very via was we well were what when where whether which while who
whom why will with within without would yet you your yours first second third one two three
based however moreover furthermore often existing different various significantly
""".split())  # noqa: SIM905 (a word list reads better as text)
CATEGORIES = (["cs.LG"] * 10 + ["cs.CV"] * 8 + ["cs.CL"] * 8 + ["cs.AI"] * 6 + ["stat.ML"] * 3
              + ["cs.RO", "cs.CR", "cs.IR", "cs.NE", "cs.DC", "eess.IV", "eess.AS", "math.OC",
                 "quant-ph", "cond-mat.stat-mech", "q-bio.NC", "physics.comp-ph", "cs.MA"])
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")


# --- the corpus ---------------------------------------------------------------------------


class Corpus:
    """Sentences, words and names of the bundled abstracts."""

    def __init__(self) -> None:
        rows = [json.loads(line) for line in (DATA / "abstracts.jsonl").open(encoding="utf-8")]
        self.titles = [r["title"] for r in rows]
        self.by_paper = [[s for s in re.split(r"(?<=[.!?])\s+", r["summary"])
                          if len(s.split()) >= 4] for r in rows]
        self.sentences = [s for sentences in self.by_paper for s in sentences]
        counts: Counter[str] = Counter()
        in_papers: Counter[str] = Counter()
        for row in rows:
            words = WORD.findall(row["title"] + " " + row["summary"])
            counts.update(w for w in words if w.lower() not in STOPWORDS)
            in_papers.update({w.lower() for w in words})
        self.content = [w for w, c in counts.items() if len(w) >= 3]
        self.lowered = {w.lower() for w in self.content}
        # Frequency^0.6: common words are common, the long tail still shows up.
        self.weights = [counts[w] ** 0.6 for w in self.content]

        # What people watch alone: words specific to one or two of the papers.
        self.specific = {w.lower() for w in self.content
                         if in_papers[w.lower()] <= 2 and len(w) >= 5}
        self.long_words = sorted(w for w in self.specific if len(w) >= 9 and w.isalpha())
        self.common = {w for w in self.lowered if in_papers[w] > 3}
        sections: dict[str, list[str]] = {}
        current = ""
        for line in (DATA / "names.txt").open(encoding="utf-8"):
            line = line.strip()
            if line.startswith("["):
                current = line.strip("[]")
            elif line and not line.startswith("#"):
                sections.setdefault(current, []).append(line)
        self.real_names = sections["real"]
        self.given = sections["given"]
        self.family = sections["family"]

    def words(self, rnd: random.Random, k: int) -> list[str]:
        return rnd.choices(self.content, self.weights, k=k)

    def name(self, rnd: random.Random) -> str:
        if rnd.random() < 0.05:
            return rnd.choice(self.real_names)
        # Two family names ("Li Wang-Schmidt") widen the name space towards real arXiv's.
        family = rnd.choice(self.family)
        if rnd.random() < 0.6:
            family = f"{family}{'-' if rnd.random() < 0.3 else ' '}{rnd.choice(self.family)}"
        return f"{rnd.choice(self.given)} {family}"


# --- watches ------------------------------------------------------------------------------


def topic(corpus: Corpus, rnd: random.Random) -> str:
    """1-4 consecutive words of a real sentence, not starting or ending on a stopword, with
    a word specific to one or two of the abstracts: a topic, not a turn of phrase."""
    for _ in range(200):
        words = WORD.findall(rnd.choice(corpus.sentences))
        length = rnd.choices((1, 2, 3, 4), (30, 40, 20, 10))[0]
        if len(words) < length:
            continue
        start = rnd.randrange(len(words) - length + 1)
        chosen = words[start:start + length]
        if chosen[0].lower() in STOPWORDS or chosen[-1].lower() in STOPWORDS:
            continue
        if len(chosen[0]) < 3 or len(chosen[-1]) < 3:
            continue
        if not any(w.lower() in corpus.specific for w in chosen):
            continue
        text = " ".join(chosen)
        return text.lower() if rnd.random() < 0.6 else text
    return corpus.words(rnd, 1)[0].lower()


def combination(corpus: Corpus, rnd: random.Random) -> str:
    """2-3 words of the vocabulary that need not occur together: the long tail."""
    return " ".join(corpus.words(rnd, rnd.choice((2, 2, 3)))).lower()


def quoted(text: str, rnd: random.Random) -> str:
    return f'"{text}"' if " " in text and rnd.random() < 0.5 else text


def watch_text(corpus: Corpus, rnd: random.Random) -> str:
    kind = rnd.random()
    if kind < 0.50:
        return topic(corpus, rnd)
    if kind < 0.70:
        return combination(corpus, rnd)
    if kind < 0.78:
        parts = [quoted(topic(corpus, rnd), rnd) for _ in range(rnd.choice((2, 2, 3)))]
        return " OR ".join(parts)
    if kind < 0.86:
        exclude = corpus.words(rnd, 1)[0].lower()
        return f"{topic(corpus, rnd)} {'-' if rnd.random() < 0.7 else 'NOT '}{exclude}"
    if kind < 0.91:
        return f"{rnd.choice(('ti:', 'abs:'))}{quoted(topic(corpus, rnd), rnd)}"
    if kind < 0.94:
        name = corpus.name(rnd)
        return f"au:{name if rnd.random() < 0.9 else name.split()[-1]}"
    if kind < 0.97:
        category = rnd.choice(CATEGORIES)
        if rnd.random() < 0.3:
            category = category.split(".")[0]
        return f"{quoted(topic(corpus, rnd), rnd)} cat:{category}"
    while True:  # the stem of a technical word, not of a common word
        word = rnd.choice(corpus.long_words).lower()
        stem = word[:rnd.randint(6, len(word) - 2)]
        if not any(w.startswith(stem) for w in STOPWORDS | corpus.common):
            return stem + "*"


def make_watches(corpus: Corpus, count: int, seed: int = SEED,
                 tail: float = 0.0) -> list[tuple[int, str]]:
    """(watch id, query text): people with 1-9 watches each, ids in creation order.

    tail: the share of extra long-tail combinations (which rarely match), to see how the
    time depends on the number of matches with the same scan.
    """
    rnd = random.Random(seed)
    out: list[tuple[int, str]] = []
    while len(out) < count:
        for _ in range(rnd.randint(1, 9)):
            text = combination(corpus, rnd) if rnd.random() < tail else watch_text(corpus, rnd)
            out.append((len(out) + 1, text))
    return out[:count]


# --- papers -------------------------------------------------------------------------------


def remix(text: str, rnd: random.Random, rate: float, draw) -> str:
    """Swap about `rate` of the content words for words drawn by `draw`."""
    def swap(m: re.Match[str]) -> str:
        word = m.group()
        if word.lower() in STOPWORDS or rnd.random() >= rate:
            return word
        return draw()
    return WORD.sub(swap, text)


def pseudo_words(corpus: Corpus, count: int, rnd: random.Random) -> list[str]:
    """Words of the rest of arXiv: 2-4 syllables of the real words, in random order."""
    syllables = sorted({s for w in corpus.lowered if w.isalpha()
                        for s in re.findall(r"[^aeiou]*[aeiou]+[^aeiou]?", w)})
    out: set[str] = set()
    while len(out) < count:
        word = "".join(rnd.choices(syllables, k=rnd.choice((2, 3, 3, 4))))
        if len(word) >= 4 and word not in corpus.lowered:
            out.add(word)
    words = sorted(out)
    rnd.shuffle(words)
    return words


class PaperMaker:
    """Papers of one arXiv day: a share in the field of the bundled abstracts, the rest
    from other fields (the same sentence shapes, the content words from pseudo-words)."""

    IN_FIELD = 0.15

    def __init__(self, corpus: Corpus, seed: int) -> None:
        self.corpus = corpus
        self.rnd = random.Random(seed)
        self.pseudo = pseudo_words(corpus, 40_000, random.Random(SEED))
        # Zipf-like weights: a few pseudo-words are common, most are rare.
        self.pseudo_weights = [1 / (rank + 10) for rank in range(len(self.pseudo))]
        self.pseudo_cum = list(itertools.accumulate(self.pseudo_weights))

    def _real(self) -> str:
        return self.corpus.words(self.rnd, 1)[0]

    def _pseudo(self) -> str:
        return self.rnd.choices(self.pseudo, cum_weights=self.pseudo_cum, k=1)[0]

    def paper(self, n: int) -> Paper:
        rnd, corpus = self.rnd, self.corpus
        in_field = rnd.random() < self.IN_FIELD
        rate, draw = (0.35, self._real) if in_field else (0.95, self._pseudo)
        # One topic per paper: most sentences from one source abstract, a few from others.
        source = rnd.randrange(len(corpus.titles))
        sentences = corpus.by_paper[source][:rnd.randint(5, 9)]
        sentences += rnd.sample(corpus.sentences, rnd.randint(2, 4))
        rnd.shuffle(sentences)
        summary = remix(" ".join(sentences), rnd, rate, draw)
        title = remix(corpus.titles[source], rnd, rate, draw)
        keywords: tuple[str, ...] = ()
        if rnd.random() < 0.3:
            keywords = tuple(remix(topic(corpus, rnd), rnd, rate, draw)
                             for _ in range(rnd.randint(3, 6)))
        categories = tuple(dict.fromkeys(rnd.choices(CATEGORIES, k=rnd.randint(1, 3))))
        authors = tuple(corpus.name(rnd) for _ in range(rnd.randint(2, 8)))
        return Paper(id=f"2508.{n:05d}", title=title, summary=summary, authors=authors,
                     categories=categories, keywords=keywords)


def make_papers(maker: PaperMaker, count: int, start: int = 0) -> list[Paper]:
    return [maker.paper(n) for n in range(start, start + count)]


# --- measuring ----------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * 4096 / 2**20


def parse_all(watches: list[tuple[int, str]]) -> tuple[list[tuple[int, Query]], float, int]:
    """Parse every query string, the collector paused (a bulk load); returns the time."""
    gc.disable()
    try:
        started = time.perf_counter()
        parsed, refused = [], 0
        for watch_id, text in watches:
            try:
                parsed.append((watch_id, parse(text)))
            except QueryError:
                refused += 1
        return parsed, time.perf_counter() - started, refused
    finally:
        gc.enable()


def build(parsed: list[tuple[int, Query]]) -> tuple[WatchIndex, float, float]:
    """Index parsed watches, the collector paused; returns the time and the memory added."""
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    index = WatchIndex()
    gc.disable()
    try:
        for watch_id, query in parsed:
            index.add(watch_id, query)
    finally:
        gc.enable()
    elapsed = time.perf_counter() - started
    gc.collect()
    return index, elapsed, rss_mb() - before


def start_path(watches: list[tuple[int, str]]) -> float:
    """What a bot start does with the rows it loaded (bot.watching.watchset): parse and add one by
    one, the collector running as usual. Database time is not included."""
    gc.collect()
    started = time.perf_counter()
    index = WatchIndex()
    for watch_id, text in watches:
        with contextlib.suppress(QueryError):
            index.add(watch_id, parse(text))
    elapsed = time.perf_counter() - started
    del index
    gc.collect()
    return elapsed


def time_scan(index: WatchIndex, papers: list[Paper]) -> float:
    """Normalization and the trie scan alone (no hits made): the part that does not grow
    with the number of matches. Uses the engine's private scan, for this breakdown only."""
    started = time.perf_counter()
    for paper in papers:
        seen: set[int] = set()
        index._scan(normalize_words(paper.title), seen)
        index._scan(normalize_words(paper.summary), seen)
        for keyword in paper.keywords:
            index._scan(normalize_words(keyword), seen)
    return time.perf_counter() - started


def time_match(index: WatchIndex, papers: list[Paper]) -> tuple[float, dict[str, list]]:
    started = time.perf_counter()
    hits = index.match_many(papers)
    return time.perf_counter() - started, hits


def time_groups(index: WatchIndex, papers: list[Paper]) -> tuple[float, int]:
    """The papers matched as the fan-out does: hits grouped (the watches of a phrase or
    boolean query that hit a paper the same way), no object per hit, the collector paused.
    Returns the seconds and the hits the groups hold."""
    hits = 0
    with collector_paused():
        started = time.perf_counter()
        for paper in papers:
            for _, members, _ in index.match_groups(paper):
                hits += 1 if isinstance(members, int) else len(members)
        return time.perf_counter() - started, hits


def live_changes(index: WatchIndex, corpus: Corpus,
                 rounds: int = 2000) -> tuple[float, float, float]:
    """Mean and 99th percentile of add and remove, on the full index, in milliseconds."""
    rnd = random.Random(SEED + 7)
    queries = []
    while len(queries) < rounds:
        with contextlib.suppress(QueryError):
            queries.append(parse(watch_text(corpus, rnd)))
    adds, removes = [], []
    base = 10**9
    for n, query in enumerate(queries):
        started = time.perf_counter()
        index.add(base + n, query)
        adds.append(time.perf_counter() - started)
    for n in range(len(queries)):
        started = time.perf_counter()
        index.remove(base + n)
        removes.append(time.perf_counter() - started)
    p99 = statistics.quantiles(adds + removes, n=100)[98]
    return statistics.mean(adds) * 1e3, statistics.mean(removes) * 1e3, p99 * 1e3


def reference_sample(parsed: list[tuple[int, Query]], papers: list[Paper],
                     hits: dict[str, list], pairs: int, rnd: random.Random
                     ) -> tuple[float, int, int]:
    """Time the naive reference on a sample of (paper, watch) pairs and compare.

    Returns (seconds per pair, pairs compared, mismatches).
    """
    sample_papers = rnd.sample(papers, 8)
    per_paper = max(1, pairs // len(sample_papers))
    mismatches = 0
    elapsed = 0.0
    compared = 0
    by_id = dict(parsed)
    for paper in sample_papers:
        engine = {h.watch_id: h.terms for h in hits.get(paper.id, [])}
        watches = rnd.sample(parsed, min(per_paper, len(parsed)))
        # Every engine hit of this paper is checked too, not just the random sample.
        extra = [(w, by_id[w]) for w in list(engine)[:200]]
        started = time.perf_counter()
        results = [(w, reference_match(q, paper)) for w, q in watches]
        elapsed += time.perf_counter() - started
        results += [(w, reference_match(q, paper)) for w, q in extra]
        compared += len(results)
        for watch_id, expected in results:
            if engine.get(watch_id) != expected:
                mismatches += 1
                if mismatches <= 5:
                    print(f"  MISMATCH paper {paper.id} watch {watch_id}: "
                          f"engine {engine.get(watch_id)} reference {expected}", file=sys.stderr)
    return elapsed / (per_paper * len(sample_papers)), compared, mismatches


def run(sizes: list[int], paper_count: int, backfill: int, sample_pairs: int,
        automaton: bool = False, tail: float = 0.0) -> None:
    corpus = Corpus()
    started = time.perf_counter()
    all_watches = make_watches(corpus, max(sizes), tail=tail)
    maker = PaperMaker(corpus, SEED + 1)
    papers = make_papers(maker, paper_count)
    print(f"# generated {len(all_watches):,} watches and {len(papers):,} papers "
          f"in {time.perf_counter() - started:.1f} s; vocabulary {len(corpus.content):,} words")
    words = [len(p.summary.split()) for p in papers]
    print(f"# abstracts: {statistics.mean(words):.0f} words on average "
          f"({min(words)}-{max(words)}); examples of watches: "
          + "; ".join(t for _, t in all_watches[:8]))
    rows = []
    for size in sizes:
        start_s = start_path(all_watches[:size])
        parsed, parse_s, refused = parse_all(all_watches[:size])
        index, build_s, memory = build(parsed)
        scan_s = time_scan(index, papers)
        match_s, hits = time_match(index, papers)  # first: the token cache is cold
        again_s, _ = time_match(index, papers)
        grouped_s, grouped_hits = time_groups(index, papers)
        rss = rss_mb()
        matches = sum(len(h) for h in hits.values())
        assert grouped_hits == matches, (grouped_hits, matches)
        add_ms, remove_ms, p99_ms = live_changes(index, corpus)
        per_pair, compared, mismatches = reference_sample(
            parsed, papers, hits, sample_pairs, random.Random(SEED + size))
        reference_s = per_pair * len(parsed) * len(papers)
        stats = index.stats()
        rows.append((size, parse_s, build_s, start_s, memory, rss, scan_s, match_s, again_s,
                     grouped_s, len(papers) / grouped_s, matches, reference_s / match_s, add_ms,
                     remove_ms, p99_ms, compared, mismatches))
        print(f"# {size:,} watches ({refused} refused): {stats}; papers with a hit: "
              f"{len(hits):,}/{len(papers):,}; {matches / size:.2f} matches per watch; "
              f"reference ~{reference_s:,.0f} s extrapolated from {per_pair * 1e6:.1f} µs "
              f"per (paper, watch)", flush=True)
        if size == max(sizes) and automaton:
            compare_automaton(index, papers)
        if size == max(sizes) and backfill:
            backfill_s = time_backfill(index, maker, backfill, paper_count)
            print(f"# back-fill: {backfill:,} papers matched in {backfill_s:.1f} s "
                  f"({backfill / backfill_s:,.0f} papers/s) with {size:,} watches", flush=True)
        del index, parsed, hits
        gc.collect()
    print()
    print("| watches | parse s | build s | start s | index MB | RSS MB | scan s "
          "| 2,000 papers s | again s | grouped s | papers/s (grouped) | matches | × reference "
          "| /watch ms | /unwatch ms | p99 ms | sample (mismatches) |")
    print("|" + "---:|" * 17)
    for (size, parse_s, build_s, start_s, memory, rss, scan_s, match_s, again_s, grouped_s,
         rate, matches, speedup, add_ms, remove_ms, p99_ms, compared, mismatches) in rows:
        print(f"| {size:,} | {parse_s:.1f} | {build_s:.1f} | {start_s:.1f} | {memory:,.0f} "
              f"| {rss:,.0f} | {scan_s:.2f} | {match_s:.2f} | {again_s:.2f} | {grouped_s:.2f} "
              f"| {rate:,.0f} "
              f"| {matches:,} "
              f"| {speedup:,.0f} | {add_ms:.3f} | {remove_ms:.3f} | {p99_ms:.3f} "
              f"| {compared:,} ({mismatches}) |")


def time_backfill(index: WatchIndex, maker: PaperMaker, count: int, chunk: int) -> float:
    """Match `count` fresh papers, generated chunk by chunk, grouped as the back-fill's
    fan-out matches them; only matching is timed."""
    elapsed = 0.0
    done = 0
    while done < count:
        papers = make_papers(maker, min(chunk, count - done), start=10_000 + done)
        elapsed += time_groups(index, papers)[0]
        done += len(papers)
    return elapsed


def compare_automaton(index: WatchIndex, papers: list[Paper]) -> None:
    """The alternative design on the same phrases: an ahocorasick-rs automaton (not a
    dependency of paperwatch; skipped when absent). Exact phrases only: plurals, joined
    compounds and prefixes would multiply the patterns, and it cannot change in place."""
    try:
        import ahocorasick_rs
    except ImportError:
        print("# ahocorasick-rs is not installed: no comparison")
        return
    texts = [index._display[state] for state in index._terminal]
    phrases = [f" {text} " for text in texts if not text.endswith("*")]
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    automaton = ahocorasick_rs.AhoCorasick(
        phrases, matchkind=ahocorasick_rs.MATCHKIND_STANDARD,
        implementation=ahocorasick_rs.Implementation.DFA)
    build_s = time.perf_counter() - started
    memory = rss_mb() - before
    started = time.perf_counter()
    found = 0
    for paper in papers:
        for text in (paper.title, paper.summary):
            found += len(automaton.find_matches_as_indexes(
                " " + " ".join(normalize_words(text)) + " ", overlapping=True))
    scan_s = time.perf_counter() - started
    print(f"# ahocorasick-rs (DFA) over the same {len(phrases):,} phrases: build {build_s:.1f} s, "
          f"{memory:,.0f} MB, {len(papers):,} papers normalized and scanned in {scan_s:.2f} s "
          f"({found:,} phrase occurrences)", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="comma-separated numbers of watches")
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--backfill", type=int, default=100_000,
                        help="papers matched with the largest index (0: skip)")
    parser.add_argument("--sample", type=int, default=20_000,
                        help="(paper, watch) pairs the naive reference evaluates")
    parser.add_argument("--tail", type=float, default=0.0,
                        help="share of extra long-tail watches (fewer matches), e.g. 0.9")
    parser.add_argument("--automaton", action="store_true",
                        help="also time ahocorasick-rs on the largest index's phrases")
    args = parser.parse_args(argv)
    run([int(s) for s in args.sizes.split(",")], args.papers, args.backfill, args.sample,
        args.automaton, args.tail)


if __name__ == "__main__":
    main()
