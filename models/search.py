"""The full-text documents search reads, and their GIN indexes (PostgreSQL only; SQLite searches with LIKE).

A message's document is stored (`messages.search_vector`, a generated column: computed once on write) because
ranking reads the vector of every match, and parsing each body again made a common word cost seconds on a
million messages. It is declared here, not on the Message class: it is unmapped (never loaded with a message),
search's own, and exists on PostgreSQL only (the migration adds it there). Contact names are few and short: an
expression index is enough.

A document is two vectors joined: `portuguese` (stemmed: "pedidos" finds "pedido") and `simple` over the text
with accents folded by `translate` ("nao" finds "não"). `unaccent` would fold more, but it is an extension not
every PostgreSQL has, and an expression index needs an immutable function: `translate` with constant strings is.
Queries must build the very same expression for the planner to use the index, hence one definition here.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Column, Computed, Index, Table, func, literal_column
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.sql.elements import ColumnElement

from models.tickets import Contact, Message

ACCENTED = "áàâãäéèêëíìîïóòôõöúùûüçñÁÀÂÃÄÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇÑ"
PLAIN = "aaaaaeeeeiiiiooooouuuucnAAAAAEEEEIIIIOOOOOUUUUCN"
_PT: ColumnElement[Any] = literal_column("'portuguese'::regconfig")
_SIMPLE: ColumnElement[Any] = literal_column("'simple'::regconfig")
_ACCENTED: ColumnElement[Any] = literal_column(f"'{ACCENTED}'::text")
_PLAIN: ColumnElement[Any] = literal_column(f"'{PLAIN}'::text")


def fold(text: Any) -> ColumnElement[Any]:
    """Accents folded (á → a), in SQL."""
    return func.translate(text, _ACCENTED, _PLAIN)


def document(text: Any) -> ColumnElement[Any]:
    """The tsvector of a text column: stemmed Portuguese plus accent-folded simple words."""
    return func.to_tsvector(_PT, text).op("||")(func.to_tsvector(_SIMPLE, fold(text)))


def query(text: str) -> ColumnElement[Any]:
    """What an agent typed as a tsquery (web-search syntax: quotes, `or`, `-word`), in both configurations."""
    return func.websearch_to_tsquery(_PT, text).op("||")(func.websearch_to_tsquery(_SIMPLE, fold(text)))


def contact_document(name: Any) -> ColumnElement[Any]:
    """Names are not stemmed: "Marta" must not find "Marte"."""
    return func.to_tsvector(_SIMPLE, fold(func.coalesce(name, literal_column("''::text"))))


# `_table`: the literal regconfig columns in the expressions keep SQLAlchemy from finding the table by itself.
_MESSAGES = cast(Table, Message.__table__)  # a class mapped to one table has a Table
_CONTACTS = cast(Table, Contact.__table__)
SEARCH_VECTOR = Column("search_vector", TSVECTOR, Computed(document(_MESSAGES.c.body), persisted=True))
_MESSAGES.append_column(SEARCH_VECTOR)
MESSAGE_BODY_INDEX = Index("ix_messages_search_vector", SEARCH_VECTOR, postgresql_using="gin").ddl_if(
    dialect="postgresql")
CONTACT_NAME_INDEX = Index("ix_contacts_name_search", contact_document(_CONTACTS.c.name),
                           postgresql_using="gin", _table=_CONTACTS).ddl_if(dialect="postgresql")


def prefix_query(words: list[str]) -> ColumnElement[Any]:
    """Every word a prefix (`mar:* & silv:*`); the words must be \\w runs (safe inside a tsquery)."""
    return func.to_tsquery(_SIMPLE, " & ".join(f"{w}:*" for w in words))
