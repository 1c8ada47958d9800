"""What /export reads: the papers a chat was alerted about in a recent window.

None of these functions commits: the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.types import Paper
from storage.models import Delivery, PaperRow
from storage.repo.papers import paper_from_row


async def alerted_papers(session: AsyncSession, chat_id: int, since: datetime) -> list[Paper]:
    """Papers whose alert (kind "alert", not a follow-up) was sent to the chat at or after
    `since`, in the order they were sent."""
    rows = await session.scalars(
        select(PaperRow).join(Delivery, Delivery.paper_id == PaperRow.id)
        .where(Delivery.chat_id == chat_id, Delivery.kind == "alert",
               Delivery.state == "sent", Delivery.sent_at >= since)
        .order_by(Delivery.sent_at, Delivery.id))
    return [paper_from_row(row) for row in rows]
