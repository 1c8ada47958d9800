"""The command registry: every command's name, menu line, usage and its one argument.

`COMMANDS` is what adapters publish as their command menu (Telegram setMyCommands, Discord
slash commands) and what /help lists, so the menu always matches what the bot does.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.watching.query import MAX_QUERY_CHARS


@dataclass(frozen=True)
class CommandSpec:
    """What a command is called, what it does, and the one free-text argument it takes."""

    name: str
    summary: str  # one line for menus (under 100 characters: Discord's limit)
    usage: str
    argument: str | None = None  # the argument's name, for platforms with typed options
    argument_help: str = ""
    argument_required: bool = False
    admin: bool = False  # changes a shared chat: only its admins may run it there
    personal: bool = True  # answer only the sender where the platform can


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", "Start paperwatch here (and resume after a block)", "/start"),
    CommandSpec("help", "How to use paperwatch; /help watch explains queries", "/help [watch]",
                argument="topic", argument_help="a command name, e.g. watch"),
    CommandSpec("watch", "Watch a topic: alerts for new papers that match", "/watch QUERY",
                argument="query", argument_help="e.g. federated learning, au:\"Yann LeCun\"",
                argument_required=True, admin=True),
    CommandSpec("unwatch", "Stop a watch (its number from /watches, or its text)",
                "/unwatch N|QUERY", argument="watch", argument_help="number or text of a watch",
                argument_required=True, admin=True),
    CommandSpec("watches", "List your watches with their hit counts", "/watches"),
    CommandSpec("mute", "Pause alerts (they wait, none are lost): /mute 8h", "/mute [DURATION]",
                argument="duration", argument_help="e.g. 30m, 8h, 3d, 1w (empty: until /unmute)",
                admin=True),
    CommandSpec("unmute", "Resume alerts; what waited arrives as one message", "/unmute",
                admin=True),
    CommandSpec("mode", "Alerts at once, or as a daily or weekly digest",
                "/mode instant | daily [HH:MM] | weekly [DAY HH:MM]", argument="schedule",
                argument_help="instant, daily 08:00 or weekly mon 09:00", admin=True),
    CommandSpec("timezone", "Your time zone, for digests and quiet hours", "/timezone Area/City",
                argument="zone", argument_help="e.g. Europe/Paris, America/New_York",
                admin=True),
    CommandSpec("quiet", "Quiet hours: alerts wait until they end", "/quiet HH:MM-HH:MM | off",
                argument="hours", argument_help="e.g. 22:00-07:00, or off", admin=True),
    CommandSpec("followups", "News about papers you got: code, trending, new version",
                "/followups [code|trending|revised] on|off", argument="setting",
                argument_help="on, off, or a kind and on/off: code off", admin=True),
    CommandSpec("status", "Your pending and failed alerts, and the sources' health", "/status"),
    CommandSpec("daily", "Daily trending post here: /daily on 09:00 Europe/Paris top 10",
                ("/daily on [HH:MM] [TZ] [top N] [min UPVOTES] [empty note|skip] [weekdays] [topic]"
                 " | off"),
                argument="settings", argument_help="on 09:00 UTC top 10 min 5 diffusion | off",
                admin=True, personal=False),
    CommandSpec("export", "A BibTeX file of your last 30 days' alerts; /export watches",
                "/export [watches]", argument="what",
                argument_help="empty for BibTeX, or watches for your watch list"),
    CommandSpec("import", "Add the watches of a file made by /export watches",
                "/import (with the file attached)", admin=True),
    CommandSpec("like", "Mark a paper relevant: /like 3 (item of the last message) or an id",
                "/like REF", argument="paper", argument_help="item number or arXiv id",
                argument_required=True),
    CommandSpec("dislike", "Mark a paper not relevant: /dislike 3, or an arXiv id",
                "/dislike REF", argument="paper", argument_help="item number or arXiv id",
                argument_required=True),
    CommandSpec("unlike", "Take back your mark on a paper", "/unlike REF", argument="paper",
                argument_help="item number or arXiv id", argument_required=True),
    CommandSpec("likes", "The papers you marked, and how to take a mark back", "/likes"),
    CommandSpec("more", "Up to 5 stored papers most like one: /more 3", "/more REF",
                argument="paper", argument_help="item number or arXiv id",
                argument_required=True),
    CommandSpec("why", "The words that make a paper rank for you: /why 3", "/why REF",
                argument="paper", argument_help="item number or arXiv id",
                argument_required=True),
    CommandSpec("foryou", "Daily picks your watches missed, from your likes",
                "/foryou on [HH:MM] | off",
                argument="setting", argument_help="on, on 08:30, or off"),
)
COMMANDS_BY_NAME = {c.name: c for c in COMMANDS}

HELP_WATCH = (
    "Watch queries",
    "• Words in a row are one phrase: federated learning (also federated-learning, "
    "plural forms like transformers)",
    "• \"quoted phrase\", AND, OR, NOT or -word, and (parentheses): "
    "diffusion AND (video OR audio) -survey",
    "• Fields: ti: title, abs: abstract, au: author, cat: arXiv category "
    "(cat:cs.LG, or cat:cs for any cs)",
    "• A field, NOT or - applies to the whole run of words after it: "
    "ti:diffusion models is one title phrase; diffusion -medical imaging leaves out "
    "\"medical imaging\" only",
    "• A trailing * matches word starts: quantiz*",
    f"• At most {MAX_QUERY_CHARS} characters and 20 terms.",
)


def usage(name: str) -> str:
    """'Usage: /quiet HH:MM-HH:MM | off'."""
    return "Usage: " + COMMANDS_BY_NAME[name].usage
