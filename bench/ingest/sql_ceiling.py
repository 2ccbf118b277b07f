"""The database's ceiling for (b): the rows one inbound message makes, inserted with plain SQL through the
same driver Django uses (sqlite3 / psycopg), one transaction per message. Prints one JSON object.

A contact's first message inserts contact, identity, conversation, message and task row; a later one
inserts message and task row and updates the conversation, as receive_message does. No lookups: the
ceiling knows every id already, which is what makes it a ceiling. Columns it does not name get the model's
default (passed in by bench/ingest/run.py), so a field another change adds does not break it.

    python bench/ingest/sql_ceiling.py --database sqlite:///path/omnidesk.sqlite3 --inbox 1 --messages 5000
    python bench/ingest/sql_ceiling.py --database postgres://postgres@127.0.0.1:5432/db --inbox 1 ...
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import sys
import time
import uuid
from pathlib import Path
from typing import Any

TASK_PATH = "omnidesk.conversations.tasks.process_inbound"
FAR_FUTURE = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


def connect(database: str) -> tuple[Any, str, bool]:
    """(connection, parameter placeholder, is_sqlite)."""
    if database.startswith("sqlite:///"):
        import sqlite3

        conn = sqlite3.connect(database.removeprefix("sqlite:///"), isolation_level=None, timeout=20)
        # The same pragmas as omnidesk/settings.py, so the ceiling runs under the server's rules.
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=20000"):
            conn.execute(f"PRAGMA {pragma}")
        return conn, "?", True
    import psycopg

    return psycopg.connect(database), "%s", False


def ts(value: dt.datetime, is_sqlite: bool) -> Any:
    # Django stores SQLite datetimes as naive UTC text; PostgreSQL takes aware datetimes.
    return value.replace(tzinfo=None).isoformat(" ") if is_sqlite else value


def insert_sql(table: str, columns: list[str], p: str, returning: bool) -> str:
    # Table and column names come from our own models, never from input.
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([p] * len(columns))})" + (  # noqa: S608
        " RETURNING id" if returning else ""
    )


def run(
    database: str,
    inbox_id: int,
    messages: int,
    contacts: int,
    max_seconds: float,
    defaults: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """`defaults`: per table, the model's default for each column (from the server's own models, so a
    column another change adds is filled as the ORM would fill it)."""
    conn, p, is_sqlite = connect(database)
    run_id = uuid.uuid4().hex[:8]
    scope = f"bench-sql-{run_id}"

    def new_uuid() -> Any:
        return uuid.uuid4().hex if is_sqlite else uuid.uuid4()

    def rows(table: str, values: dict[str, Any]) -> tuple[list[str], list[Any]]:
        merged = {**defaults.get(table, {}), **values}
        return list(merged), list(merged.values())

    update_conversation = (
        "UPDATE conversations_conversation SET last_message_at = ?, last_inbound_at = ?, "
        "message_count = message_count + 1, current_inbox_id = ?, status = 'open' WHERE id = ?"
    ).replace("?", p)
    conversations: dict[int, int] = {}
    far = ts(FAR_FUTURE, is_sqlite)
    done = 0
    deadline = time.monotonic() + max_seconds
    start = time.monotonic()
    cur = conn.cursor()
    statements: dict[tuple[str, tuple[str, ...]], str] = {}

    def insert(table: str, values: dict[str, Any], returning: bool = False) -> int | None:
        columns, params = rows(table, values)
        key = (table, tuple(columns))
        if key not in statements:
            statements[key] = insert_sql(table, columns, p, returning)
        cur.execute(statements[key], params)
        return cur.fetchone()[0] if returning else None

    for n in range(messages):
        if time.monotonic() > deadline:
            break
        now = ts(dt.datetime.now(dt.UTC), is_sqlite)
        c = n % contacts
        text = f"Hello, this is message {n} of run {run_id}. Where is my order?"
        if is_sqlite:
            cur.execute("BEGIN IMMEDIATE")
        update = c in conversations
        if not update:
            contact_id = insert(
                "contacts_contact",
                {"uuid": new_uuid(), "name": f"Customer {c}", "created_at": now},
                returning=True,
            )
            insert(
                "contacts_contactidentity",
                {
                    "contact_id": contact_id,
                    "kind": "external",
                    "scope": scope,
                    "value": f"{run_id}-customer-{c}",
                    "verified": True,
                    "created_at": now,
                },
            )
            conversations[c] = insert(
                "conversations_conversation",
                {
                    "uuid": new_uuid(),
                    "contact_id": contact_id,
                    "subject": text[:120],
                    "current_inbox_id": inbox_id,
                    "reply_token": secrets.token_urlsafe(12),
                    "created_at": now,
                    "last_message_at": now,
                    "last_inbound_at": now,
                    "message_count": 1,
                },
                returning=True,
            )
        message_id = insert(
            "conversations_message",
            {
                "uuid": new_uuid(),
                "conversation_id": conversations[c],
                "inbox_id": inbox_id,
                "direction": "in",
                "kind": "text",
                "sender_type": "contact",
                "text": text,
                "external_id": f"sql-{run_id}-{n}",
                "status": "received",
                "meta": "{}",
                "created_at": now,
            },
            returning=True,
        )
        if update:
            cur.execute(update_conversation, (now, now, inbox_id, conversations[c]))
        insert(
            "django_tasks_database_dbtaskresult",
            {
                "id": new_uuid(),
                "status": "READY",
                "enqueued_at": now,
                "args_kwargs": json.dumps({"args": [message_id], "kwargs": {}}),
                "priority": 0,
                "task_path": TASK_PATH,
                "worker_ids": "[]",
                "queue_name": "inbound",
                "run_after": far,
                # A backend name no worker serves: the same row and indexes, but workers leave it be.
                "backend_name": "bench-ceiling",
            },
        )
        if is_sqlite:
            cur.execute("COMMIT")
        else:
            conn.commit()
        done += 1
    elapsed = time.monotonic() - start
    conn.close()
    return {"messages": done, "elapsed": elapsed, "messages_per_second": done / elapsed if elapsed else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--inbox", type=int, required=True)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--contacts", type=int, default=200)
    parser.add_argument("--max-seconds", type=float, default=20)
    parser.add_argument("--defaults", help="JSON file: {table: {column: default}} from the server's models")
    args = parser.parse_args()
    defaults = json.loads(Path(args.defaults).read_text()) if args.defaults else {}
    json.dump(
        run(args.database, args.inbox, args.messages, args.contacts, args.max_seconds, defaults), sys.stdout
    )
    print()


if __name__ == "__main__":
    main()
