"""Deliveries get a partial index of their sent alerts by paper (issue 14).

A follow-up (a paper got code, started trending, was revised) goes to the chats that were
sent an alert about the paper, and finding them read every delivery: 1 s at one day of a
million watches (5.3 M rows), about 30 s at the 30 days kept. An index on paper_id for
every row would cost each row of the fan-out one more b-tree insert; this one holds only
sent alerts, so the fan-out's pending rows never enter it and a row enters once, when it
is sent, at the pace of the platforms.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

SENT_ALERTS = "deliveries.state = 'sent' AND deliveries.kind = 'alert'"


def upgrade() -> None:
    op.create_index('ix_deliveries_sent_alerts', 'deliveries', ['paper_id'], unique=False,
                    sqlite_where=sa.text(SENT_ALERTS), postgresql_where=sa.text(SENT_ALERTS))


def downgrade() -> None:
    op.drop_index('ix_deliveries_sent_alerts', table_name='deliveries')
