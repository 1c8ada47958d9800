"""Paper details from Hugging Face (stars, AI summary, organization) and per-chat watch numbers.

The number a person sees after /watch (#3) was its position in /watches, while /unwatch #3
meant the database id; now each watch has one number in its chat, never reused. Existing
watches are numbered per chat in the order they were made.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('papers') as batch:
        batch.add_column(sa.Column('github_stars', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('ai_summary', sa.Text(), nullable=False, server_default=''))
        batch.add_column(sa.Column('organization', sa.Text(), nullable=True))
    with op.batch_alter_table('watches') as batch:
        batch.add_column(sa.Column('number', sa.Integer(), nullable=True))
    op.execute(
        "UPDATE watches SET number = (SELECT count(*) FROM watches AS earlier"
        " WHERE earlier.chat_id = watches.chat_id AND earlier.id <= watches.id)")
    with op.batch_alter_table('watches') as batch:
        batch.alter_column('number', existing_type=sa.Integer(), nullable=False)
        batch.create_unique_constraint('uq_watches_chat_number', ['chat_id', 'number'])


def downgrade() -> None:
    with op.batch_alter_table('watches') as batch:
        batch.drop_constraint('uq_watches_chat_number', type_='unique')
        batch.drop_column('number')
    with op.batch_alter_table('papers') as batch:
        batch.drop_column('organization')
        batch.drop_column('ai_summary')
        batch.drop_column('github_stars')
