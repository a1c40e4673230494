"""ticket read marker

Revision ID: 580518a6acd2
Revises: dee69aae5403
Create Date: 2026-11-25 15:23:30.044574
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op




revision: str = '580518a6acd2'
down_revision: str | None = 'dee69aae5403'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('tickets', sa.Column('read_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('tickets', 'read_at')
