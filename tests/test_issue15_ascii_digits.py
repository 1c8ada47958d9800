"""Issue 15 (Low): numbers are written in the ASCII digits 0-9 everywhere a number is read.
Superscripts, fullwidth and Arabic-Indic digits in a duration, a time, a count or a watch
number get a short reason and change nothing (never "Something went wrong", never
Python's own message), through the real command layer on a real database."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("text", "expected"), [
    ("/unwatch ²", "digits 0-9"),
    ("/unwatch #１", "digits 0-9"),
    ("/unwatch ٣", "digits 0-9"),
    ("/mute ²h", "Can't read the duration “²h”"),
    ("/mute ８h", "Can't read the duration"),
    ("/mode daily ０9:00", "“０9:00” is not a time"),
    ("/mode weekly Mon ²9:00", "is not a time"),
    ("/quiet ²2:00-07:00", "is not a time"),
    ("/quiet 22:00-0７:00", "is not a time"),
    ("/daily on min ²", "needs a number in the digits 0-9"),
    ("/daily on top ²", "needs a number in the digits 0-9"),
    ("/daily on ０9:00", "“０9:00” is not a time"),
    ("/daily on 0²:00 UTC", "“0²:00” is not a time"),
    ("/daily on ٠٩:٠٠", "is not a time"),
])
async def test_a_number_not_in_ascii_digits_is_refused_and_changes_nothing(console, text,
                                                                          expected):
    assert "Watching" in await console.push("/watch alpha")
    before = await console.push("/status")
    reply = await console.push(text)
    assert expected in reply, reply
    assert "went wrong" not in reply.lower() and "invalid literal" not in reply
    assert await console.push("/status") == before
    assert "No daily post here" in await console.push("/daily")
    assert "1. alpha" in await console.push("/watches")
