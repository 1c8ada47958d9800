"""The bot's Prometheus metrics, kept in a prometheus_client registry owned by the app.

Each `Metrics` object has its own `CollectorRegistry` (no global registry: two apps in one
test process count apart). Counters and the send-latency histogram are declared once in
`DECLARED`; gauges that the database knows better (queue depth, deliveries by state) are
handed to `render` at scrape time by the health server.

When several roles run as separate processes, set `PROMETHEUS_MULTIPROC_DIR` to an empty
directory shared by them before they start: prometheus_client then keeps the values in files
there and `render` sums the counters of every process (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Gauges = dict[str, list[tuple[dict[str, str], float]]]


@dataclass(frozen=True)
class MetricSpec:
    kind: str  # "counter" | "histogram"
    help: str
    labels: tuple[str, ...]


DECLARED: dict[str, MetricSpec] = {
    "paperwatch_papers_ingested_total": MetricSpec(
        "counter", "Papers stored for the first time, by source", ("source",)),
    "paperwatch_matches_total": MetricSpec(
        "counter", "Deliveries enqueued (one per recipient and paper)", ()),
    "paperwatch_sends_total": MetricSpec(
        "counter", "Send attempts by platform and outcome", ("platform", "outcome")),
    "paperwatch_rate_limited_total": MetricSpec(
        "counter", "429 / RetryAfter answers by platform", ("platform",)),
    "paperwatch_messages_sent_total": MetricSpec(
        "counter", "Messages delivered, by platform", ("platform",)),
    "paperwatch_alerts_sent_total": MetricSpec(
        "counter", "Papers delivered inside those messages, by platform", ("platform",)),
    "paperwatch_send_latency_seconds": MetricSpec(
        "histogram", "Time one send took, by platform", ("platform",)),
}


class _ScrapeGauges(Collector):
    """Hands the gauges read for the current scrape to the registry."""

    def __init__(self) -> None:
        self.current: Gauges = {}

    def collect(self) -> Iterable[GaugeMetricFamily]:
        for name, series in sorted(self.current.items()):
            names = sorted({key for labels, _ in series for key in labels})
            family = GaugeMetricFamily(name, name.removeprefix("paperwatch_").replace("_", " "),
                                       labels=names)
            for labels, value in series:
                family.add_metric([labels.get(key, "") for key in names], value)
            yield family


class Metrics:
    """Counters and histograms by name and labels; `render` gives the Prometheus text."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._metrics: dict[str, Counter | Histogram] = {}
        for name, spec in DECLARED.items():
            if spec.kind == "counter":
                self._metrics[name] = Counter(name.removesuffix("_total"), spec.help,
                                              spec.labels, registry=self.registry)
            else:
                self._metrics[name] = Histogram(name, spec.help, spec.labels,
                                                buckets=LATENCY_BUCKETS, registry=self.registry)
        self._gauges = _ScrapeGauges()
        self._scrape_registry = self._multiprocess_registry() or self.registry
        self._scrape_registry.register(self._gauges)

    @staticmethod
    def _multiprocess_registry() -> CollectorRegistry | None:
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return None
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry

    def _child(self, name: str, labels: dict[str, str]) -> Counter | Histogram:
        metric = self._metrics[name]  # KeyError: the name is not in DECLARED
        return metric.labels(**labels) if labels else metric

    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        counter = self._child(name, labels)
        assert isinstance(counter, Counter), f"{name} is not a counter"
        counter.inc(amount)

    def observe(self, name: str, value: float, **labels: str) -> None:
        histogram = self._child(name, labels)
        assert isinstance(histogram, Histogram), f"{name} is not a histogram"
        histogram.observe(value)

    def value(self, name: str, **labels: str) -> float:
        """The current value of one counter series (0 when never counted)."""
        found = self.registry.get_sample_value(name, labels)
        return found or 0.0

    def render(self, gauges: Gauges | None = None) -> str:
        self._gauges.current = gauges or {}
        try:
            return generate_latest(self._scrape_registry).decode("utf-8")
        finally:
            self._gauges.current = {}
