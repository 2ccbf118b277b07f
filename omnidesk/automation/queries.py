"""Hand-written reads on the inbound path: every customer message asks them when rules are enabled, and the
ORM's query building cost several times the read itself (bench/automation, docs/benchmarks.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection

from omnidesk.contacts.models import Contact
from omnidesk.conversations.constants import Direction, MessageKind, SenderType
from omnidesk.conversations.models import Message
from omnidesk.db.rows import marks, table

from .models import RuleRun

REPLY_SENDERS = (SenderType.AGENT, SenderType.BOT)


def waiting_before(conversation_id: int, message_id: int, before: dt.datetime) -> bool:
    """Whether the latest text before `before` that is the customer's or a reply (a reply first where the
    times are equal) is the customer's: the conversation already waited on us when the message came."""
    when = connection.ops.adapt_datetimefield_value(before)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT direction FROM {table(Message)} WHERE conversation_id = %s AND created_at < %s"  # noqa: S608
            " AND kind = %s AND id <> %s"
            f" AND (direction = %s OR sender_type IN ({marks(REPLY_SENDERS)}))"
            " ORDER BY created_at DESC, direction DESC LIMIT 1",
            [conversation_id, when, MessageKind.TEXT, message_id, Direction.IN, *REPLY_SENDERS],
        )
        row = cursor.fetchone()
    return row is not None and row[0] == Direction.IN


def contact_facts(contact_id: int) -> tuple[Mapping[str, Any], bool]:
    """A contact's attributes and VIP flag (what rule conditions read of it); empty for a contact gone."""
    attributes = Contact._meta.get_field("attributes")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT attributes, vip FROM {table(Contact)} WHERE id = %s", [contact_id])  # noqa: S608
        row = cursor.fetchone()
    if row is None:
        return {}, False
    found = attributes.from_db_value(row[0], None, connection) if isinstance(row[0], str) else row[0]
    return (found if isinstance(found, dict) else {}), bool(row[1])


def run_counts(
    conversation_id: int, rule_ids: Sequence[int], since: dt.datetime
) -> dict[int, tuple[int, int]]:
    """Per rule: its runs on the conversation, ever and since `since`."""
    if not rule_ids:
        return {}
    when = connection.ops.adapt_datetimefield_value(since)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rule_id, COUNT(*), SUM(CASE WHEN created_at >= %s THEN 1 ELSE 0 END)"  # noqa: S608
            f" FROM {table(RuleRun)} WHERE conversation_id = %s AND rule_id IN ({marks(rule_ids)})"
            " GROUP BY rule_id",
            [when, conversation_id, *rule_ids],
        )
        return {rule_id: (int(total), int(recent or 0)) for rule_id, total, recent in cursor.fetchall()}
