"""workday: canned responses, labels, snooze

Revision ID: b9b1cb0b67c6
Revises: 580518a6acd2
Create Date: 2026-12-02 06:25:35.021014
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b9b1cb0b67c6'
down_revision: str | None = '580518a6acd2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('canned_responses',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_canned_responses_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_canned_responses_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_canned_responses'))
    )
    op.create_index(op.f('ix_canned_responses_tenant_id'), 'canned_responses', ['tenant_id'], unique=False)
    op.create_index('uq_canned_responses_owner_code', 'canned_responses', ['owner_id', 'code'], unique=True, postgresql_where=sa.text('owner_id IS NOT NULL'), sqlite_where=sa.text('owner_id IS NOT NULL'))
    op.create_index('uq_canned_responses_tenant_code', 'canned_responses', ['tenant_id', 'code'], unique=True, postgresql_where=sa.text('owner_id IS NULL'), sqlite_where=sa.text('owner_id IS NULL'))


def downgrade() -> None:
    op.drop_index('uq_canned_responses_tenant_code', table_name='canned_responses', postgresql_where=sa.text('owner_id IS NULL'), sqlite_where=sa.text('owner_id IS NULL'))
    op.drop_index('uq_canned_responses_owner_code', table_name='canned_responses', postgresql_where=sa.text('owner_id IS NOT NULL'), sqlite_where=sa.text('owner_id IS NOT NULL'))
    op.drop_index(op.f('ix_canned_responses_tenant_id'), table_name='canned_responses')
    op.drop_table('canned_responses')
