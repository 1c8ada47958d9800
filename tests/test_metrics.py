"""The Prometheus metrics: names as documented, parsed by prometheus_client's own parser,
apart per app, and summed over processes in multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.ops.metrics import Metrics


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_counters_histogram_and_scrape_gauges_render_as_prometheus_text():
    metrics = Metrics()
    metrics.inc("paperwatch_sends_total", platform="telegram", outcome="sent")
    metrics.inc("paperwatch_sends_total", 2, platform="telegram", outcome="sent")
    metrics.observe("paperwatch_send_latency_seconds", 0.2, platform="telegram")
    samples = _samples(metrics.render({"paperwatch_queue_depth": [({}, 7)]}))
    assert samples[("paperwatch_sends_total", (("outcome", "sent"), ("platform", "telegram")))] == 3
    assert samples[("paperwatch_send_latency_seconds_bucket",
                    (("le", "0.1"), ("platform", "telegram")))] == 0
    assert samples[("paperwatch_send_latency_seconds_bucket",
                    (("le", "0.25"), ("platform", "telegram")))] == 1
    assert samples[("paperwatch_queue_depth", ())] == 7
    assert metrics.value("paperwatch_sends_total", platform="telegram", outcome="sent") == 3
    # the gauges belong to one scrape only
    assert ("paperwatch_queue_depth", ()) not in _samples(metrics.render())


def test_two_apps_count_apart_and_an_undeclared_name_is_refused():
    first, second = Metrics(), Metrics()
    first.inc("paperwatch_matches_total", 5)
    assert second.value("paperwatch_matches_total") == 0
    with pytest.raises(KeyError):
        first.inc("paperwatch_typo_total")


_CHILD = """
from bot.ops.metrics import Metrics
Metrics().inc("paperwatch_messages_sent_total", {n}, platform="discord")
"""


def test_multiprocess_mode_sums_the_counters_of_every_process(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for n in (2, 3):
        subprocess.run([sys.executable, "-c", _CHILD.format(n=n)], env=env, check=True,
                       timeout=60)
    reader = "from bot.ops.metrics import Metrics; print(Metrics().render())"
    text = subprocess.run([sys.executable, "-c", reader], env=env, check=True, timeout=60,
                          capture_output=True, text=True).stdout
    assert _samples(text)[("paperwatch_messages_sent_total", (("platform", "discord"),))] == 5
