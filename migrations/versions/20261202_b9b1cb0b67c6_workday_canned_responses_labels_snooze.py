"""workday: canned responses, labels on tickets and contacts, snooze columns, audit log index, auto-resolve

Revision ID: b9b1cb0b67c6
Revises: b7c4d1e9a3f2
Create Date: 2026-12-02 06:25:35.021014
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'b9b1cb0b67c6'
down_revision: str | None = 'b7c4d1e9a3f2'
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
    op.create_table('labels',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('color', sa.String(length=7), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_labels_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_labels')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_labels_tenant_id_name'))
    )
    op.create_index(op.f('ix_labels_tenant_id'), 'labels', ['tenant_id'], unique=False)
    op.create_table('contact_labels',
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('label_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('added_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['added_by'], ['users.id'], name=op.f('fk_contact_labels_added_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_contact_labels_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['label_id'], ['labels.id'], name=op.f('fk_contact_labels_label_id_labels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_contact_labels_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('contact_id', 'label_id', name=op.f('pk_contact_labels'))
    )
    op.create_index(op.f('ix_contact_labels_label_id'), 'contact_labels', ['label_id'], unique=False)
    op.create_index(op.f('ix_contact_labels_tenant_id'), 'contact_labels', ['tenant_id'], unique=False)
    op.create_table('ticket_labels',
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('label_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('added_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['added_by'], ['users.id'], name=op.f('fk_ticket_labels_added_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['label_id'], ['labels.id'], name=op.f('fk_ticket_labels_label_id_labels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticket_labels_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_labels_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id', 'label_id', name=op.f('pk_ticket_labels'))
    )
    op.create_index(op.f('ix_ticket_labels_label_id'), 'ticket_labels', ['label_id'], unique=False)
    op.create_index(op.f('ix_ticket_labels_tenant_id'), 'ticket_labels', ['tenant_id'], unique=False)
    op.add_column('tickets', sa.Column('snoozed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('tickets', sa.Column('snoozed_until', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_tickets_snoozed_until', 'tickets', ['snoozed_until'], unique=False, postgresql_where=sa.text('snoozed_until IS NOT NULL'), sqlite_where=sa.text('snoozed_until IS NOT NULL'))
    op.create_index('ix_audit_log_tenant_created', 'audit_log', ['tenant_id', 'created_at', 'id'], unique=False)
    op.create_table('queue_auto_resolve',
    sa.Column('queue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('idle_seconds', sa.Integer(), nullable=False),
    sa.Column('closing_message', sa.Text(), nullable=True),
    sa.Column('closing_template', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_queue_auto_resolve_queue_id_queues'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_queue_auto_resolve_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('queue_id', name=op.f('pk_queue_auto_resolve'))
    )
    op.create_index(op.f('ix_queue_auto_resolve_tenant_id'), 'queue_auto_resolve', ['tenant_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_queue_auto_resolve_tenant_id'), table_name='queue_auto_resolve')
    op.drop_table('queue_auto_resolve')
    op.drop_index('ix_audit_log_tenant_created', table_name='audit_log')
    op.drop_index('ix_tickets_snoozed_until', table_name='tickets', postgresql_where=sa.text('snoozed_until IS NOT NULL'), sqlite_where=sa.text('snoozed_until IS NOT NULL'))
    op.drop_column('tickets', 'snoozed_until')
    op.drop_column('tickets', 'snoozed_at')
    op.drop_index(op.f('ix_ticket_labels_tenant_id'), table_name='ticket_labels')
    op.drop_index(op.f('ix_ticket_labels_label_id'), table_name='ticket_labels')
    op.drop_table('ticket_labels')
    op.drop_index(op.f('ix_contact_labels_tenant_id'), table_name='contact_labels')
    op.drop_index(op.f('ix_contact_labels_label_id'), table_name='contact_labels')
    op.drop_table('contact_labels')
    op.drop_index(op.f('ix_labels_tenant_id'), table_name='labels')
    op.drop_table('labels')
    op.drop_index('uq_canned_responses_tenant_code', table_name='canned_responses', postgresql_where=sa.text('owner_id IS NULL'), sqlite_where=sa.text('owner_id IS NULL'))
    op.drop_index('uq_canned_responses_owner_code', table_name='canned_responses', postgresql_where=sa.text('owner_id IS NOT NULL'), sqlite_where=sa.text('owner_id IS NOT NULL'))
    op.drop_index(op.f('ix_canned_responses_tenant_id'), table_name='canned_responses')
    op.drop_table('canned_responses')
