"""sla policies, ticket clocks, pauses and notices

New tables only (tickets itself is unchanged: its due-time columns already exist). Server defaults on the NOT
NULL columns with a model default, so rows written by hand or by older code are valid too.

Revision ID: dee69aae5403
Revises: 2b1ed6e03e03
Create Date: 2026-11-25 14:57:16.522517
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'dee69aae5403'
down_revision: str | None = '2b1ed6e03e03'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sla_policies',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('queue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=True),
    sa.Column('first_response_seconds', sa.Integer(), nullable=True),
    sa.Column('next_response_seconds', sa.Integer(), nullable=True),
    sa.Column('resolution_seconds', sa.Integer(), nullable=True),
    sa.Column('warning_fraction', sa.Float(), nullable=False, server_default='0.8'),
    sa.Column('escalate_priority', sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column('escalate_queue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('escalate_agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['escalate_agent_id'], ['users.id'], name=op.f('fk_sla_policies_escalate_agent_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['escalate_queue_id'], ['queues.id'], name=op.f('fk_sla_policies_escalate_queue_id_queues'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_sla_policies_queue_id_queues'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_sla_policies_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_policies')),
    sa.UniqueConstraint('tenant_id', 'queue_id', 'priority', name=op.f('uq_sla_policies_tenant_id_queue_id_priority'), postgresql_nulls_not_distinct=True)
    )
    op.create_index(op.f('ix_sla_policies_tenant_id'), 'sla_policies', ['tenant_id'], unique=False)
    op.create_table('sla_notices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('clock', sa.Enum('first_response', 'next_response', 'resolution', name='slaclock', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('kind', sa.Enum('warning', 'breach', name='noticekind', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('threshold_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('policy_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['sla_policies.id'], name=op.f('fk_sla_notices_policy_id_sla_policies'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_sla_notices_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_sla_notices_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_notices')),
    sa.UniqueConstraint('ticket_id', 'clock', 'kind', 'threshold_at', name=op.f('uq_sla_notices_ticket_id_clock_kind_threshold_at'))
    )
    op.create_index(op.f('ix_sla_notices_tenant_id'), 'sla_notices', ['tenant_id'], unique=False)
    op.create_table('sla_pauses',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_sla_pauses_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_sla_pauses_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_pauses'))
    )
    op.create_index(op.f('ix_sla_pauses_tenant_id'), 'sla_pauses', ['tenant_id'], unique=False)
    op.create_index(op.f('ix_sla_pauses_ticket_id'), 'sla_pauses', ['ticket_id'], unique=False)
    op.create_index('uq_sla_pauses_open', 'sla_pauses', ['ticket_id'], unique=True, postgresql_where=sa.text('ended_at IS NULL'), sqlite_where=sa.text('ended_at IS NULL'))
    op.create_table('ticket_sla',
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('policy_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('first_response_warning_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_response_warning_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution_warning_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_response_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_check_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_response_clocks', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_seconds', sa.Float(), nullable=True),
    sa.Column('resolution_seconds', sa.Float(), nullable=True),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['sla_policies.id'], name=op.f('fk_ticket_sla_policy_id_sla_policies'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticket_sla_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_sla_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id', name=op.f('pk_ticket_sla'))
    )
    op.create_index('ix_ticket_sla_next_check_at', 'ticket_sla', ['next_check_at'], unique=False, postgresql_where=sa.text('next_check_at IS NOT NULL'), sqlite_where=sa.text('next_check_at IS NOT NULL'))
    op.create_index(op.f('ix_ticket_sla_tenant_id'), 'ticket_sla', ['tenant_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_ticket_sla_tenant_id'), table_name='ticket_sla')
    op.drop_index('ix_ticket_sla_next_check_at', table_name='ticket_sla', postgresql_where=sa.text('next_check_at IS NOT NULL'), sqlite_where=sa.text('next_check_at IS NOT NULL'))
    op.drop_table('ticket_sla')
    op.drop_index('uq_sla_pauses_open', table_name='sla_pauses', postgresql_where=sa.text('ended_at IS NULL'), sqlite_where=sa.text('ended_at IS NULL'))
    op.drop_index(op.f('ix_sla_pauses_ticket_id'), table_name='sla_pauses')
    op.drop_index(op.f('ix_sla_pauses_tenant_id'), table_name='sla_pauses')
    op.drop_table('sla_pauses')
    op.drop_index(op.f('ix_sla_notices_tenant_id'), table_name='sla_notices')
    op.drop_table('sla_notices')
    op.drop_index(op.f('ix_sla_policies_tenant_id'), table_name='sla_policies')
    op.drop_table('sla_policies')
