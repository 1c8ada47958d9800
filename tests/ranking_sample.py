"""The real sample the feedback tests share: the 70 papers of one Hugging Face Daily Papers
day (tests/data/ranking_hf_day_2025-08-20.jsonl, a copy of ../shared/data), with ids
2508.00001-2508.00070, and its federated-learning and vision papers chosen by title."""

from __future__ import annotations

import json
from pathlib import Path

from bot.types import Paper

DAY = Path(__file__).parent / "data" / "ranking_hf_day_2025-08-20.jsonl"
SAMPLE = [Paper(f"2508.{n:05d}", item["title"], item["summary"], source="hf")
          for n, item in enumerate(map(json.loads, DAY.read_text().splitlines()), 1)]
VISION_WORDS = ("image", "vision", "visual", "segmentation")


def federated(paper: Paper) -> bool:
    return "federated" in paper.title.lower()


def vision(paper: Paper) -> bool:
    return any(w in paper.title.lower() for w in VISION_WORDS) and not federated(paper)


FL = [p for p in SAMPLE if federated(p)]
VISION = [p for p in SAMPLE if vision(p)]
IS_FL = {p.id for p in FL}
IS_VISION = {p.id for p in VISION}
OTHERS = [p for p in SAMPLE if p.id not in IS_FL | IS_VISION]
BY_ID = {p.id: p for p in SAMPLE}
