"""Fan-out state on papers, a kind on deliveries (alert or follow-up), follow-up settings.

- papers.fanout_pending: set when a new paper is stored, cleared once every delivery it
  causes is written; a restart finishes the papers still marked (issue 14).
- deliveries.kind: "alert" for a match, "code" / "trending" / "revised" for a follow-up about
  a paper the chat was alerted about; unique (chat, paper, kind) keeps each once (issue 16).
- chats.followups: the follow-up kinds the chat wants, comma-separated (default all).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# The first schema left the (chat_id, paper_id) unique constraint unnamed; this convention
# names it the same on SQLite's reflected copy and lets batch mode drop it.
_NAMES = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}


def _old_unique_name() -> str:
    if op.get_bind().dialect.name == "postgresql":
        return "deliveries_chat_id_paper_id_key"
    return "uq_deliveries_chat_id_paper_id"


def upgrade() -> None:
    with op.batch_alter_table('papers') as batch:
        batch.add_column(sa.Column('fanout_pending', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.create_index('ix_papers_fanout_pending', ['fanout_pending'])
    with op.batch_alter_table('chats') as batch:
        batch.add_column(sa.Column('followups', sa.String(length=64), nullable=False,
                                   server_default='code,trending,revised'))
    with op.batch_alter_table('deliveries', naming_convention=_NAMES) as batch:
        batch.add_column(sa.Column('kind', sa.String(length=16), nullable=False,
                                   server_default='alert'))
        batch.drop_constraint(_old_unique_name(), type_='unique')
        batch.create_unique_constraint('uq_deliveries_chat_paper_kind',
                                       ['chat_id', 'paper_id', 'kind'])


def downgrade() -> None:
    op.execute("DELETE FROM deliveries WHERE kind <> 'alert'")
    with op.batch_alter_table('deliveries', naming_convention=_NAMES) as batch:
        batch.drop_constraint('uq_deliveries_chat_paper_kind', type_='unique')
        batch.create_unique_constraint(_old_unique_name(), ['chat_id', 'paper_id'])
        batch.drop_column('kind')
    with op.batch_alter_table('chats') as batch:
        batch.drop_column('followups')
    with op.batch_alter_table('papers') as batch:
        batch.drop_index('ix_papers_fanout_pending')
        batch.drop_column('fanout_pending')
