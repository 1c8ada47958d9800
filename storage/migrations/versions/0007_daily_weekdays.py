"""Daily posts on weekdays only: channel_posts.weekdays (Monday to Friday, like the
Hugging Face email; false = every day), for personal trending subscriptions (issue 16).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('channel_posts') as batch:
        batch.add_column(sa.Column('weekdays', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('channel_posts') as batch:
        batch.drop_column('weekdays')
