"""contacts: identities, profile fields, merge tombstones, export/erasure jobs; full-text search

Revision ID: c0a7c7e1d5e1
Revises: b9b1cb0b67c6
Create Date: 2026-12-02 06:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'c0a7c7e1d5e1'
down_revision: str | None = 'b9b1cb0b67c6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out here rather than imported from models.search, so this revision never changes with the code.
ACCENTED = "áàâãäéèêëíìîïóòôõöúùûüçñÁÀÂÃÄÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇÑ"
PLAIN = "aaaaaeeeeiiiiooooouuuucnAAAAAEEEEIIIIOOOOOUUUUCN"
MESSAGE_DOCUMENT = (f"(to_tsvector('portuguese'::regconfig, body) || to_tsvector('simple'::regconfig, "
                    f"translate(body, '{ACCENTED}'::text, '{PLAIN}'::text)))")
NAME_DOCUMENT = (f"to_tsvector('simple'::regconfig, translate(COALESCE(name, ''::text), '{ACCENTED}'::text, "
                 f"'{PLAIN}'::text))")


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table('contact_identities',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.Enum('phone', 'email', name='identitykind', native_enum=False, length=8,
                              create_constraint=True), nullable=False),
    sa.Column('value', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_contact_identities_contact_id_contacts'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_contact_identities_tenant_id_tenants'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_identities')),
    sa.UniqueConstraint('tenant_id', 'kind', 'value', name=op.f('uq_contact_identities_tenant_id_kind_value'))
    )
    op.create_index(op.f('ix_contact_identities_contact_id'), 'contact_identities', ['contact_id'], unique=False)
    op.create_index(op.f('ix_contact_identities_tenant_id'), 'contact_identities', ['tenant_id'], unique=False)
    with op.batch_alter_table('contacts') as batch:
        batch.add_column(sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()),
                                                                        'postgresql'),
                                   nullable=False, server_default='{}'))
        batch.add_column(sa.Column('notes', sa.Text(), nullable=True))
        batch.add_column(sa.Column('merged_into_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                                   nullable=True))
        batch.add_column(sa.Column('merged_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key(op.f('fk_contacts_merged_into_id_contacts'), 'contacts', ['merged_into_id'], ['id'],
                                 ondelete='SET NULL')
    with op.batch_alter_table('contacts') as batch:
        batch.alter_column('attributes', server_default=None)
    # Every existing phone and email becomes an identity, so triage's lookup by identity finds every contact.
    for kind in ('phone', 'email'):
        op.execute(f"INSERT INTO contact_identities (tenant_id, contact_id, kind, value, created_at) "
                   f"SELECT tenant_id, id, '{kind}', {kind}, created_at FROM contacts WHERE {kind} IS NOT NULL")
    op.create_table('contact_jobs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.Enum('export', 'erasure', name='jobkind', native_enum=False, length=16,
                              create_constraint=True), nullable=False),
    sa.Column('status', sa.Enum('queued', 'running', 'done', 'failed', name='jobstatus', native_enum=False,
                                length=16, create_constraint=True), nullable=False),
    sa.Column('requested_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('cursor', sa.BigInteger(), nullable=False),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_contact_jobs_contact_id_contacts'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by'], ['users.id'], name=op.f('fk_contact_jobs_requested_by_users'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_contact_jobs_tenant_id_tenants'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_jobs'))
    )
    op.create_index(op.f('ix_contact_jobs_contact_id'), 'contact_jobs', ['contact_id'], unique=False)
    op.create_index(op.f('ix_contact_jobs_tenant_id'), 'contact_jobs', ['tenant_id'], unique=False)
    if _postgresql():
        op.create_index('ix_contact_identities_value_trgm', 'contact_identities', ['value'], unique=False,
                        postgresql_using='gin', postgresql_ops={'value': 'gin_trgm_ops'})
        # Rewrites the table once (a stored generated column): minutes on a large messages table, under lock.
        op.add_column('messages', sa.Column('search_vector', postgresql.TSVECTOR(),
                                            sa.Computed(MESSAGE_DOCUMENT, persisted=True), nullable=True))
        op.create_index('ix_messages_search_vector', 'messages', ['search_vector'], unique=False,
                        postgresql_using='gin')
        op.create_index('ix_contacts_name_search', 'contacts', [sa.text(NAME_DOCUMENT)], unique=False,
                        postgresql_using='gin')


def downgrade() -> None:
    if _postgresql():
        op.drop_index('ix_contacts_name_search', table_name='contacts')
        op.drop_index('ix_messages_search_vector', table_name='messages')
        op.drop_column('messages', 'search_vector')
        op.drop_index('ix_contact_identities_value_trgm', table_name='contact_identities')
    op.drop_index(op.f('ix_contact_jobs_tenant_id'), table_name='contact_jobs')
    op.drop_index(op.f('ix_contact_jobs_contact_id'), table_name='contact_jobs')
    op.drop_table('contact_jobs')
    with op.batch_alter_table('contacts') as batch:
        batch.drop_constraint(op.f('fk_contacts_merged_into_id_contacts'), type_='foreignkey')
        batch.drop_column('erased_at')
        batch.drop_column('updated_at')
        batch.drop_column('merged_at')
        batch.drop_column('merged_into_id')
        batch.drop_column('notes')
        batch.drop_column('attributes')
    op.drop_index(op.f('ix_contact_identities_tenant_id'), table_name='contact_identities')
    op.drop_index(op.f('ix_contact_identities_contact_id'), table_name='contact_identities')
    op.drop_table('contact_identities')
