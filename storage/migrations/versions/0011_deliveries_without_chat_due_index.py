"""Deliveries lose the per-chat due index (issue 14).

Claiming used to ask every active chat for its oldest due row, which needed an index on
(chat_id, state, next_attempt_at); it now reads the oldest due rows from the
(state, next_attempt_at) index and takes their chats. The per-chat index cost every
delivery written a second random insert (sqlite3 alone: 160,000 rows a second with it,
255,000 without; PostgreSQL COPY sorted by chat: 139,000 and 164,000). The lookups of one
chat's rows that remain use the unique (chat_id, paper_id, kind) index.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_deliveries_chat_due', table_name='deliveries')


def downgrade() -> None:
    op.create_index('ix_deliveries_chat_due', 'deliveries',
                    ['chat_id', 'state', 'next_attempt_at'], unique=False)
