"""The full-text documents search reads, and their GIN indexes (PostgreSQL only; SQLite searches with LIKE).

A document is two vectors joined: `portuguese` (stemmed: "pedidos" finds "pedido") and `simple` over the text
with accents folded by `translate` ("nao" finds "não"). `unaccent` would fold more, but it is an extension not
every PostgreSQL has, and an expression index needs an immutable function: `translate` with constant strings is.
Queries must build the very same expression for the planner to use the index, hence one definition here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index, func, literal_column
from sqlalchemy.sql.elements import ColumnElement

from models.tickets import Contact, Message

ACCENTED = "áàâãäéèêëíìîïóòôõöúùûüçñÁÀÂÃÄÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇÑ"
PLAIN = "aaaaaeeeeiiiiooooouuuucnAAAAAEEEEIIIIOOOOOUUUUCN"
_PT = literal_column("'portuguese'::regconfig")
_SIMPLE = literal_column("'simple'::regconfig")
_ACCENTED = literal_column(f"'{ACCENTED}'::text")
_PLAIN = literal_column(f"'{PLAIN}'::text")


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
MESSAGE_BODY_INDEX = Index("ix_messages_body_search", document(Message.__table__.c.body),
                           postgresql_using="gin", _table=Message.__table__).ddl_if(dialect="postgresql")
CONTACT_NAME_INDEX = Index("ix_contacts_name_search", contact_document(Contact.__table__.c.name),
                           postgresql_using="gin", _table=Contact.__table__).ddl_if(dialect="postgresql")


def prefix_query(words: list[str]) -> ColumnElement[Any]:
    """Every word a prefix (`mar:* & silv:*`); the words must be \\w runs (safe inside a tsquery)."""
    return func.to_tsquery(_SIMPLE, " & ".join(f"{w}:*" for w in words))
