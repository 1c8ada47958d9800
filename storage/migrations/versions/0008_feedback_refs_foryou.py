"""What feedback commands need to resolve and schedule: the numbered items of the last
message sent to each chat (`sent_items`: /like 3 means item 3 of it, in every process and
after a restart), and each person's /foryou schedule (`foryou`: on/off, the local time, the
chat the picks go to, the last local day they were queued for).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'sent_items',
        sa.Column('chat_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('paper_id', sa.String(length=64), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['paper_id'], ['papers.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('chat_id', 'number'),
    )
    op.create_table(
        'foryou',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('platform', sa.String(length=16), nullable=False),
        sa.Column('user_id', sa.String(length=64), nullable=False),
        sa.Column('chat_id', sa.Integer(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column('post_time', sa.String(length=5), nullable=False, server_default='09:00'),
        sa.Column('last_day', sa.Date(), nullable=True),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('platform', 'user_id', name='uq_foryou_person'),
    )


def downgrade() -> None:
    op.drop_table('foryou')
    op.drop_table('sent_items')
