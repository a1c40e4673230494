"""inbox dead letters: dead_at, and indexes for the fair requeue and the dead-letter listing

Revision ID: b7c4d1e9a3f2
Revises: 879082327378
Create Date: 2026-12-02 06:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b7c4d1e9a3f2'
down_revision: str | None = '879082327378'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('inbox_events', sa.Column('dead_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_inbox_events_requeue', 'inbox_events', ['attempts', 'id'], unique=False,
                    postgresql_where=sa.text('processed_at IS NULL AND dead_at IS NULL'),
                    sqlite_where=sa.text('processed_at IS NULL AND dead_at IS NULL'))
    op.create_index('ix_inbox_events_dead', 'inbox_events', ['tenant_id', 'dead_at'], unique=False,
                    postgresql_where=sa.text('dead_at IS NOT NULL'), sqlite_where=sa.text('dead_at IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_inbox_events_dead', table_name='inbox_events',
                  postgresql_where=sa.text('dead_at IS NOT NULL'), sqlite_where=sa.text('dead_at IS NOT NULL'))
    op.drop_index('ix_inbox_events_requeue', table_name='inbox_events',
                  postgresql_where=sa.text('processed_at IS NULL AND dead_at IS NULL'),
                  sqlite_where=sa.text('processed_at IS NULL AND dead_at IS NULL'))
    op.drop_column('inbox_events', 'dead_at')
