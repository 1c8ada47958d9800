"""What a source refresh changed that the people alerted about a paper want to hear.

`follow_up_kinds(before, after, rules)` compares the stored paper with its newer sighting:
- "code": a GitHub repository appeared, or its stars crossed `rules.stars`;
- "trending": Hugging Face upvotes crossed `rules.upvotes`;
- "revised": a newer arXiv version changed the title or the abstract (a paper stored
  without a version, as Hugging Face lists them, counts as v1).
Each kind fires once per paper because it compares across the threshold (before below,
after at or above); the outbox's unique (chat, paper, kind) keeps it once per person.

`follow_ups(before, after, rules)` gives the same kinds with the notes the delivery row
keeps in `why` for the message to say: for "revised", `[["changed", "title"], ["changed",
"abstract"]]` (what changed), read back by `bot.delivery.details.follow_up_text`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.types import Paper

KINDS = ("code", "trending", "revised")


@dataclass(frozen=True)
class FollowUpRules:
    upvotes: int = 50
    stars: int = 100


def _crossed(before: int | None, after: int | None, threshold: int) -> bool:
    return after is not None and after >= threshold > (before or 0)


def _words(text: str) -> str:
    return " ".join(text.split()).casefold()


_DEFAULT_RULES = FollowUpRules()


Notes = list[list[str]]  # a delivery row's `why`: [["changed", "title"], ...]
FollowUp = tuple[str, Notes]  # (kind, notes)


def follow_ups(before: Paper, after: Paper, rules: FollowUpRules = _DEFAULT_RULES
               ) -> list[FollowUp]:
    """(kind, notes) of each follow-up this sighting triggers, in KINDS order."""
    out: list[FollowUp] = []
    for kind in follow_up_kinds(before, after, rules):
        notes: Notes = []
        if kind == "revised":
            notes = [["changed", what] for what, old, new in
                     (("title", before.title, after.title),
                      ("abstract", before.summary, after.summary))
                     if _words(old) != _words(new)]
        out.append((kind, notes))
    return out


def follow_up_kinds(before: Paper, after: Paper, rules: FollowUpRules = _DEFAULT_RULES
                    ) -> list[str]:
    """The follow-up kinds this sighting triggers, in KINDS order."""
    kinds = []
    if (after.github_url and not before.github_url) or (
            before.github_url and _crossed(before.github_stars, after.github_stars, rules.stars)):
        kinds.append("code")
    if _crossed(before.upvotes, after.upvotes, rules.upvotes):
        kinds.append("trending")
    # a paper first seen on Hugging Face has no version: it counts as v1, so the arXiv v2
    # that changes its text is a revision (the stored text is replaced by it too)
    newer = after.version is not None and after.version > (before.version or 1)
    if newer and (_words(after.title) != _words(before.title)
                  or _words(after.summary) != _words(before.summary)):
        kinds.append("revised")
    return kinds
