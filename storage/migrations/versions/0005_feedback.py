"""The feedback table: one person's relevant / not relevant mark on one stored paper.

A person is (platform, user id) of whoever gave the mark, also in a group or a server; one
row per person and paper (a new mark replaces the old), deleted when the mark is taken back.
Personal ranking models are rebuilt from these rows.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('feedback',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('paper_id', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('value IN (-1, 1)', name='ck_feedback_value'),
    sa.ForeignKeyConstraint(['paper_id'], ['papers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'user_id', 'paper_id', name='uq_feedback_person_paper')
    )
    op.create_index('ix_feedback_created', 'feedback', ['created_at'])
    op.create_index('ix_feedback_paper_id', 'feedback', ['paper_id'])


def downgrade() -> None:
    op.drop_index('ix_feedback_paper_id', table_name='feedback')
    op.drop_index('ix_feedback_created', table_name='feedback')
    op.drop_table('feedback')
