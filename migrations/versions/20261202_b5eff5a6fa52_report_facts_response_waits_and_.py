"""report facts: response waits and resolutions as they happen; messages by tenant and time (volume)

Revision ID: b5eff5a6fa52
Revises: c0a7c7e1d5e1
Create Date: 2026-12-02 07:26:15.577717
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op



revision: str = 'b5eff5a6fa52'
down_revision: str | None = 'c0a7c7e1d5e1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('response_facts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('first_response', 'next_response', 'resolution', name='factkind', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('wall_seconds', sa.Float(), nullable=True),
    sa.Column('business_seconds', sa.Float(), nullable=True),
    sa.Column('channel_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('queue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_response_facts_agent_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_response_facts_channel_id_channels'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_response_facts_queue_id_queues'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_response_facts_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_response_facts_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_response_facts'))
    )
    op.create_index('ix_response_facts_tenant_ended', 'response_facts', ['tenant_id', 'ended_at'], unique=False)
    op.create_index(op.f('ix_response_facts_tenant_id'), 'response_facts', ['tenant_id'], unique=False)
    op.create_index('ix_response_facts_tenant_opened', 'response_facts', ['tenant_id', 'started_at'], unique=False, postgresql_where=sa.text("kind = 'resolution'"), sqlite_where=sa.text("kind = 'resolution'"))
    op.create_index(op.f('ix_response_facts_ticket_id'), 'response_facts', ['ticket_id'], unique=False)
    op.create_index('uq_response_facts_once', 'response_facts', ['ticket_id', 'cycle', 'kind'], unique=True, postgresql_where=sa.text("kind <> 'next_response'"), sqlite_where=sa.text("kind <> 'next_response'"))
    op.create_index('uq_response_facts_open_cycle', 'response_facts', ['ticket_id'], unique=True, postgresql_where=sa.text("ended_at IS NULL AND kind = 'resolution'"), sqlite_where=sa.text("ended_at IS NULL AND kind = 'resolution'"))
    op.create_index('uq_response_facts_open_wait', 'response_facts', ['ticket_id'], unique=True, postgresql_where=sa.text("ended_at IS NULL AND kind <> 'resolution'"), sqlite_where=sa.text("ended_at IS NULL AND kind <> 'resolution'"))
    op.create_index('ix_messages_tenant_created', 'messages', ['tenant_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_messages_tenant_created', table_name='messages')
    op.drop_index('uq_response_facts_open_wait', table_name='response_facts', postgresql_where=sa.text("ended_at IS NULL AND kind <> 'resolution'"), sqlite_where=sa.text("ended_at IS NULL AND kind <> 'resolution'"))
    op.drop_index('uq_response_facts_open_cycle', table_name='response_facts', postgresql_where=sa.text("ended_at IS NULL AND kind = 'resolution'"), sqlite_where=sa.text("ended_at IS NULL AND kind = 'resolution'"))
    op.drop_index('uq_response_facts_once', table_name='response_facts', postgresql_where=sa.text("kind <> 'next_response'"), sqlite_where=sa.text("kind <> 'next_response'"))
    op.drop_index(op.f('ix_response_facts_ticket_id'), table_name='response_facts')
    op.drop_index('ix_response_facts_tenant_opened', table_name='response_facts', postgresql_where=sa.text("kind = 'resolution'"), sqlite_where=sa.text("kind = 'resolution'"))
    op.drop_index(op.f('ix_response_facts_tenant_id'), table_name='response_facts')
    op.drop_index('ix_response_facts_tenant_ended', table_name='response_facts')
    op.drop_table('response_facts')
