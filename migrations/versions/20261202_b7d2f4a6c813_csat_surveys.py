"""csat: per-queue settings, one survey per resolved ticket with its score

Revision ID: b7d2f4a6c813
Revises: a1c3e5f70b21
Create Date: 2026-12-02 07:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'b7d2f4a6c813'
down_revision: str | None = 'a1c3e5f70b21'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('queues') as batch:
        batch.add_column(sa.Column('settings', Json, nullable=False, server_default=sa.text("'{}'")))
    op.create_table('csat_surveys',
    sa.Column('id', BigId, nullable=False),
    sa.Column('ticket_id', BigId, nullable=False),
    sa.Column('channel_id', BigId, nullable=False),
    sa.Column('contact_id', BigId, nullable=False),
    sa.Column('queue_id', BigId, nullable=True),
    sa.Column('agent_id', BigId, nullable=True),
    sa.Column('question_message_id', BigId, nullable=True),
    sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('score', sa.SmallInteger(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=True),
    sa.Column('tenant_id', BigId, nullable=False),
    sa.CheckConstraint('score BETWEEN 1 AND 5', name=op.f('ck_csat_surveys_score_range')),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_csat_surveys_agent_id_users'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_csat_surveys_channel_id_channels'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_csat_surveys_contact_id_contacts'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['question_message_id'], ['messages.id'],
                            name=op.f('fk_csat_surveys_question_message_id_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_csat_surveys_queue_id_queues'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_csat_surveys_tenant_id_tenants'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_csat_surveys_ticket_id_tickets'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_csat_surveys')),
    sa.UniqueConstraint('ticket_id', name=op.f('uq_csat_surveys_ticket_id'))
    )
    op.create_index('ix_csat_surveys_answered', 'csat_surveys', ['tenant_id', 'answered_at'], unique=False)
    op.create_index('ix_csat_surveys_pending', 'csat_surveys', ['contact_id', 'channel_id', 'expires_at'],
                    unique=False, postgresql_where=sa.text('score IS NULL'), sqlite_where=sa.text('score IS NULL'))
    op.create_index(op.f('ix_csat_surveys_tenant_id'), 'csat_surveys', ['tenant_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_csat_surveys_tenant_id'), table_name='csat_surveys')
    op.drop_index('ix_csat_surveys_pending', table_name='csat_surveys',
                  postgresql_where=sa.text('score IS NULL'), sqlite_where=sa.text('score IS NULL'))
    op.drop_index('ix_csat_surveys_answered', table_name='csat_surveys')
    op.drop_table('csat_surveys')
    with op.batch_alter_table('queues') as batch:
        batch.drop_column('settings')
