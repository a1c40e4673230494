"""sandbox channel kind

Revision ID: 7c1d2e3f4a5b
Revises: 7e89cfc18d31
Create Date: 2026-12-02 06:30:00.000000
"""
from collections.abc import Sequence

from alembic import op

revision: str = '7c1d2e3f4a5b'
down_revision: str | None = '7e89cfc18d31'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# ChannelKind is stored as a string checked by a named constraint (models.base.enum_column): a new kind widens it.
_NAME = 'ck_channels_channelkind'
_BEFORE = "kind IN ('whatsapp', 'sms', 'email')"
_AFTER = "kind IN ('whatsapp', 'sms', 'email', 'sandbox')"


def _replace(check: str) -> None:
    with op.batch_alter_table('channels') as batch:
        batch.drop_constraint(op.f(_NAME), type_='check')
        batch.create_check_constraint(op.f(_NAME), check)


def upgrade() -> None:
    _replace(_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM channels WHERE kind = 'sandbox'")
    _replace(_BEFORE)
