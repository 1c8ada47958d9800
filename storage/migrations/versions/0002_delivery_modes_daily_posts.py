"""Delivery modes and pacing state on chats; the daily_posts table.

chats gets the person's delivery preferences (mode, digest time and day, time zone, quiet
hours), hold_until (nothing is sent before it) and recent_sends (the hourly cap's memory).
daily_posts holds one row per (chat, local day) so a daily trending post is never posted
twice. ix_deliveries_chat_due makes claiming look up each chat's due rows by index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('chats', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mode', sa.String(length=16), nullable=False,
                                      server_default='instant'))
        batch_op.add_column(sa.Column('digest_time', sa.String(length=5), nullable=False,
                                      server_default='09:00'))
        batch_op.add_column(sa.Column('digest_day', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=False,
                                      server_default='UTC'))
        batch_op.add_column(sa.Column('quiet_start', sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column('quiet_end', sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column('hold_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('recent_sends', sa.JSON(), nullable=False,
                                      server_default='[]'))

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_chat_due', ['chat_id', 'state', 'next_attempt_at'],
                              unique=False)

    op.create_table('daily_posts',
    sa.Column('chat_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('papers', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('chat_id', 'day')
    )


def downgrade() -> None:
    op.drop_table('daily_posts')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_chat_due')
    with op.batch_alter_table('chats', schema=None) as batch_op:
        for name in ('recent_sends', 'hold_until', 'quiet_end', 'quiet_start', 'timezone',
                     'digest_day', 'digest_time', 'mode'):
            batch_op.drop_column(name)
