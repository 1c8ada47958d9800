"""In-process metrics and their Prometheus text rendering.

Counters and a latency histogram live in a `Metrics` object owned by the app (no global
registry); gauges that the database knows better (queue depth, deliveries by state) are
read at scrape time by the health server.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class Histogram:
    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0
    n: int = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1


class Metrics:
    """Counters by name and labels, and histograms; rendered in Prometheus text format."""

    HELP = {
        "paperwatch_papers_ingested_total": "Papers stored for the first time, by source",
        "paperwatch_matches_total": "Deliveries enqueued (one per recipient and paper)",
        "paperwatch_sends_total": "Send attempts by platform and outcome",
        "paperwatch_rate_limited_total": "429 / RetryAfter answers by platform",
        "paperwatch_send_latency_seconds": "Time one send took, by platform",
    }

    def __init__(self) -> None:
        self.counters: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
        self.histograms: dict[str, dict[tuple[tuple[str, str], ...], Histogram]] = defaultdict(dict)

    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        series = self.counters[name]
        series[key] = series.get(key, 0) + amount

    def observe(self, name: str, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        self.histograms[name].setdefault(key, Histogram()).observe(value)

    def value(self, name: str, **labels: str) -> float:
        return self.counters.get(name, {}).get(tuple(sorted(labels.items())), 0)

    def render(self, gauges: dict[str, list[tuple[dict[str, str], float]]] | None = None) -> str:
        lines: list[str] = []
        for name, series in sorted(self.counters.items()):
            lines += [f"# HELP {name} {self.HELP.get(name, name)}", f"# TYPE {name} counter"]
            lines += [f"{name}{_labels(dict(k))} {v:g}" for k, v in sorted(series.items())]
        for name, series in sorted(self.histograms.items()):
            lines += [f"# HELP {name} {self.HELP.get(name, name)}", f"# TYPE {name} histogram"]
            for key, hist in sorted(series.items()):
                labels = dict(key)
                running = 0
                for bound, count in zip(hist.buckets, hist.counts, strict=False):
                    running += count
                    bucket = _labels({**labels, "le": f"{bound:g}"})
                    lines.append(f"{name}_bucket{bucket} {running}")
                lines.append(f"{name}_bucket{_labels({**labels, 'le': '+Inf'})} {hist.n}")
                lines.append(f"{name}_sum{_labels(labels)} {hist.total:g}")
                lines.append(f"{name}_count{_labels(labels)} {hist.n}")
        for name, series in sorted((gauges or {}).items()):
            lines += [f"# TYPE {name} gauge"]
            lines += [f"{name}{_labels(labels)} {value:g}" for labels, value in series]
        return "\n".join(lines) + "\n"
