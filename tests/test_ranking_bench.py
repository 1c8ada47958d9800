"""The ranking bench runs end to end on a small size (so it does not rot), through the real
storage, and its figures are sane: the models pick papers of each person's own topics and
more like this stays within a topic."""

from __future__ import annotations

from bench import ranking


def test_the_ranking_bench_runs_small(tmp_path, capsys):
    results = ranking.main(["--papers", "2000", "--people", "50", "--day", "500",
                            "--db-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert (tmp_path / "ranking.db").exists()
    for figure in ("fit tf-idf", "train one person", "train all people",
                   "score 500 papers for all people", "more_like over 2,000 papers",
                   "peak RSS"):
        assert figure in out
    assert results["more_like_ms"] < 1000 and results["train_one_ms"] < 500
    assert results["peak_rss_mb"] > 0
    picks_line = next(line for line in out.splitlines() if line.startswith("| score"))
    share = int(picks_line.rsplit("picks, ", 1)[1].split("%")[0])
    assert share >= 80, picks_line
