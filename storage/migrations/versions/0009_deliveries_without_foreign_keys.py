"""Deliveries without foreign keys: the fan-out writes millions of rows a day (issue 14).

On PostgreSQL the two foreign keys of `deliveries` (to chats and papers) are checked by a
trigger per row, which halved the rate rows are stored at (10,000-row COPY batches into a
table of 200,000 chats: 48,000 rows/s with them, 95,000 without). The fan-out writes rows
only for chats and papers it has just read, and nothing deletes chats or papers, so the
keys guarded nothing that happens; their ON DELETE CASCADE is not relied on anywhere.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# The first schema left the foreign keys unnamed: PostgreSQL named them
# deliveries_<column>_fkey; on SQLite this convention names the reflected ones alike.
_NAMES = {"fk": "deliveries_%(column_0_name)s_fkey",
          "uq": "uq_%(table_name)s_%(column_0_N_name)s"}


def upgrade() -> None:
    with op.batch_alter_table('deliveries', naming_convention=_NAMES) as batch:
        batch.drop_constraint('deliveries_chat_id_fkey', type_='foreignkey')
        batch.drop_constraint('deliveries_paper_id_fkey', type_='foreignkey')


def downgrade() -> None:
    # rows whose chat or paper is gone could not satisfy the keys again
    op.execute("DELETE FROM deliveries WHERE chat_id NOT IN (SELECT id FROM chats) "
               "OR paper_id NOT IN (SELECT id FROM papers)")
    with op.batch_alter_table('deliveries', naming_convention=_NAMES) as batch:
        batch.create_foreign_key('deliveries_chat_id_fkey', 'chats', ['chat_id'], ['id'],
                                 ondelete='CASCADE')
        batch.create_foreign_key('deliveries_paper_id_fkey', 'papers', ['paper_id'], ['id'],
                                 ondelete='CASCADE')
