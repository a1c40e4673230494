"""triage state, presence and tenant settings

Revision ID: 2b1ed6e03e03
Revises: 6cf409de27c6
Create Date: 2026-11-25 14:36:20.727655
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql



revision: str = '2b1ed6e03e03'
down_revision: str | None = '6cf409de27c6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('queues', sa.Column('offline_grace_seconds', sa.Integer(), nullable=False, server_default='120'))
    op.add_column('tenants', sa.Column('settings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False,
                                       server_default='{}'))
    op.add_column('tickets', sa.Column('triage_state', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False,
                                       server_default='{}'))
    op.add_column('tickets', sa.Column('reopened_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('users', sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('users', 'last_seen_at')
    op.drop_column('tickets', 'reopened_at')
    op.drop_column('tickets', 'triage_state')
    op.drop_column('tenants', 'settings')
    op.drop_column('queues', 'offline_grace_seconds')
