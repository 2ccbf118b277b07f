"""The spine's hand-written reads: the few a message costs on the hot path, written as SQL because compiling
them with the ORM cost more CPU than the rest of one message's work (docs/spine.md, "Envelopes"). Names come
from our models' meta and every value is bound; db/rows.py builds the rows back into model instances as the
ORM would."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection

from omnidesk.contacts.models import Contact, ContactIdentity
from omnidesk.db.rows import Columns, marks, table, values_together
from omnidesk.inboxes.models import Inbox

from .constants import ACTIVE_STATUSES
from .models import Conversation, Message, Tag

IdentityKey = tuple[str, str, str]


def stored_and_owners(
    inbox_id: int, external_ids: list[str], identities: Mapping[tuple[str, str], Iterable[str]]
) -> tuple[list[int], list[tuple[IdentityKey, Contact]]]:
    """The ids of this inbox's messages with these external ids, and the owner of each of these identities
    ((kind, scope) → values), in one round trip on PostgreSQL."""
    statements: list[tuple[str, list[Any]]] = []
    if external_ids:
        statements.append(
            (
                f"SELECT id FROM {table(Message)} WHERE inbox_id = %s "  # noqa: S608
                f"AND external_id IN ({marks(external_ids)})",
                [inbox_id, *external_ids],
            )
        )
    contact = Columns.of(Contact, "c")
    if identities:
        where: list[str] = []
        params: list[Any] = []
        for (kind, scope), vals in identities.items():
            vals = sorted(vals)
            where.append(f"(i.kind = %s AND i.scope = %s AND i.value IN ({marks(vals)}))")
            params += [kind, scope, *vals]
        statements.append(
            (
                f"SELECT i.kind, i.scope, i.value, {contact.sql} "  # noqa: S608
                f"FROM {table(ContactIdentity)} i "
                f"INNER JOIN {table(Contact)} c ON c.id = i.contact_id WHERE {' OR '.join(where)}",
                params,
            )
        )
    results = values_together(statements)
    found = [row[0] for row in results.pop(0)] if external_ids else []
    owners = [
        ((row[0], row[1], row[2]), contact.build(row, 3)) for row in (results.pop(0) if identities else [])
    ]
    return found, owners


def candidate_conversations(
    contact_ids: list[int], since: dt.datetime, refs: Iterable[str], named: list[int]
) -> tuple[list[Conversation], list[tuple[int, str]]]:
    """The conversations a message of these contacts may join: their open or pending ones with a message since
    `since`, those whose reply token is one of `refs`, and those `named` (by earlier messages the refs name);
    with their tags, in one round trip on PostgreSQL."""
    refs = sorted(refs)
    statuses = list(ACTIVE_STATUSES)
    where = [
        f"(contact_id IN ({marks(contact_ids)}) AND status IN ({marks(statuses)}) AND last_message_at >= %s)"
    ]
    params: list[Any] = [
        *contact_ids,
        *statuses,
        Conversation._meta.get_field("last_message_at").get_db_prep_value(since, connection),
    ]
    if refs:
        where.append(f"reply_token IN ({marks(refs)})")
        params += refs
    if named:
        where.append(f"id IN ({marks(named)})")
        params += named
    columns = Columns.of(Conversation, "v")
    through = Conversation.tags.through
    rows, tag_rows = values_together(
        [
            (f"SELECT {columns.sql} FROM {table(Conversation)} v WHERE {' OR '.join(where)}", params),  # noqa: S608
            # Their tags, in the same round trip: the same conditions, as a subquery.
            (
                f"SELECT ct.conversation_id, t.name FROM {table(through)} ct "  # noqa: S608
                f"INNER JOIN {table(Tag)} t ON t.id = ct.tag_id WHERE ct.conversation_id IN "
                f"(SELECT v.id FROM {table(Conversation)} v WHERE {' OR '.join(where)})",
                params,
            ),
        ]
    )
    return [columns.build(row, 0) for row in rows], [(row[0], row[1]) for row in tag_rows]


def message_for_processing(message_id: int) -> Message | None:
    """The message with its conversation and inbox, as select_related would give them, in one join: the
    ORM's three-table join spent more CPU compiling the query than reading it."""
    message, conversation, inbox = (
        Columns.of(model, alias) for model, alias in ((Message, "m"), (Conversation, "c"), (Inbox, "i"))
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {message.sql}, {conversation.sql}, {inbox.sql} "  # noqa: S608
            f"FROM {table(Message)} m "
            f"INNER JOIN {table(Conversation)} c ON c.id = m.conversation_id "
            f"LEFT JOIN {table(Inbox)} i ON i.id = m.inbox_id WHERE m.id = %s",
            [message_id],
        )
        row = cursor.fetchone()
    if row is None:  # gone, or its conversation deleted meanwhile (the message goes with it)
        return None
    read = message.build(row, 0)
    read.conversation = conversation.build(row, message.width)
    if read.inbox_id is not None:
        read.inbox = inbox.build(row, message.width + conversation.width)
    return read


def tag_names(conversation_id: int) -> list[str]:
    """The conversation's tag names, sorted, as the events carry them."""
    through = Conversation.tags.through
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.name FROM {table(Tag)} t JOIN {table(through)} ct ON ct.tag_id = t.id"  # noqa: S608
            " WHERE ct.conversation_id = %s",
            [conversation_id],
        )
        return sorted(name for (name,) in cursor.fetchall())
