"""Discord's feedback controls, built from a message's platform-neutral item refs
(`OutMessage.items`): under a single alert the buttons 👍 / 👎 / More like this (the
persistent `CommandButton`s: custom id "pw:/like 2411.18385"); under a numbered list three
select menus, "👍 Relevant…", "👎 Not relevant…" and "🔎 More like this…", whose options are
its items by number and title (value: the paper id). The menus are a `DynamicItem` too (custom id
"pw:pick:like"), so a message sent before a restart still works. A choice runs
"/like ID" (or "/dislike ID", "/more ID") for each chosen paper, for whoever chose, and is
answered ephemerally: an acknowledgement line per paper, or the similar papers."""

from __future__ import annotations

import re
from typing import Any, Protocol

import discord

from adapters.discord_commands import BUTTON_PREFIX, CommandButton, custom_id
from bot.wording import short

PICK_PREFIX = BUTTON_PREFIX + "pick:"
MAX_OPTIONS = 25  # Discord's limit per select menu
MAX_OPTION_CHARS = 100
SINGLE = (("👍", "like"), ("👎", "dislike"), ("More like this", "more"))
PICKS = (("like", "👍 Relevant: pick papers of this list…"),
         ("dislike", "👎 Not relevant: pick papers of this list…"),
         ("more", "🔎 More like this: pick a paper…"))


class PickHandlers(Protocol):
    async def run_buttons(self, interaction: discord.Interaction,
                          commands: list[str]) -> None: ...


class FeedbackPick(discord.ui.DynamicItem[discord.ui.Select],
                   template=re.compile(re.escape(PICK_PREFIX) + r"(?P<action>like|dislike|more)")):
    """A select menu of a list's papers: choosing marks them for whoever chose."""

    def __init__(self, action: str, options: list[discord.SelectOption] | None = None,
                 placeholder: str | None = None) -> None:
        options = options or [discord.SelectOption(label="-", value="-")]
        most = 1 if action == "more" else len(options)  # one list of similar papers at a time
        super().__init__(discord.ui.Select(custom_id=PICK_PREFIX + action,
                                           placeholder=placeholder, options=options,
                                           min_values=1, max_values=most))
        self.action = action

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item,
                             match: re.Match[str], /) -> FeedbackPick:
        return cls(match["action"])

    async def callback(self, interaction: discord.Interaction) -> None:
        data: Any = interaction.data or {}
        values = [str(v) for v in data.get("values", [])][:MAX_OPTIONS]
        handlers: PickHandlers | None = getattr(interaction.client, "paperwatch", None)
        if handlers is not None and values:
            await handlers.run_buttons(interaction, [f"/{self.action} {v}" for v in values])


def _label(number: int, title: str) -> str:
    text = f"{number}. {' '.join(title.split()) or 'paper'}"
    return short(text, MAX_OPTION_CHARS)


def feedback_items(view: discord.ui.View, items: tuple[Any, ...]) -> None:
    """Add the feedback controls of these item refs (bot.types.ItemRef) to a view."""
    if len(items) == 1:
        [item] = items
        for label, action in SINGLE:
            command = item.command(action)
            if custom_id(command) is not None:
                view.add_item(CommandButton(command, label))
        return
    shown = [i for i in items if len(i.paper_id) <= MAX_OPTION_CHARS][:MAX_OPTIONS]
    if len(shown) < 2:
        return
    for action, placeholder in PICKS:
        options = [discord.SelectOption(label=_label(i.number, i.title), value=i.paper_id)
                   for i in shown]
        view.add_item(FeedbackPick(action, options, placeholder))
