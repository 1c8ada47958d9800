"""Watches keep room on each page for their hit counts (PostgreSQL; issue 14).

At the end of each fan-out every watch that hit gets `hit_count + n`: at a million watches,
about a million updated rows. On a full page PostgreSQL writes each new row version
elsewhere and adds it to every index of the table; with free room on the page it writes a
heap-only tuple and leaves the indexes alone. A fill factor of 70 leaves that room in the
pages written from now on (VACUUM FULL rewrites older ones). SQLite updates in place and
has no such setting.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE watches SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE watches RESET (fillfactor)")
