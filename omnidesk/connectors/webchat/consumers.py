"""The chat visitor's WebSocket: /ws/widget/<inbox uuid>/ (protocol in docs/widget.md).

client → server, one JSON object per frame; the first must be `hello`:
  {"type": "hello", "token": str|null, "identity": {...}|null, "cursor": iso|null, "context": {...},
   "locale": str}
  {"type": "send", "client_id": str, "text": str, "prechat": {...}?, "context": {...}?, "quick_reply": str?}
  {"type": "typing", "conversation_id": uuid, "typing": bool}
  {"type": "read", "ids": [uuid, ...]}
  {"type": "ping"}
server → client: welcome, ack, error, pong, and the widget.* events of omnidesk.realtime.events.

Database work runs on the widget's own threads (omnidesk/connectors/webchat/db.py), one hop per frame: a message's
rate limit, write and events on the group-commit writer, stored together with the other visitors'
messages that arrived meanwhile; everything else on the widget's database thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections import deque
from collections.abc import Sequence
from typing import Any, Literal

from django.db import DatabaseError
from django.utils import timezone, translation
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from omnidesk.connectors.base import ConnectorError, InboundEvent
from omnidesk.connectors.webchat.connector import VisitorContext, WebchatConnector
from omnidesk.contacts.identities import InvalidIdentity
from omnidesk.conversations.actions import ActionError
from omnidesk.conversations.values import UnstorableValue, parse_json
from omnidesk.db.group_commit import Pending
from omnidesk.inboxes.models import Inbox
from omnidesk.realtime.dispatch import DirectJsonWebsocketConsumer

from . import actions, ratelimit
from .db import on_widget_thread, writer
from .origins import origin_allowed
from .queries import visitor_contact, visitor_history
from .sessions import InvalidSession, VisitorSession, open_session
from .strings import STRINGS, pick_language

CLOSE_NO_INBOX = 4404
CLOSE_FORBIDDEN = 4403
CLOSE_RATE_LIMITED = 4429
MAX_FRAME_CHARS = 16_384
OWN_IDS_KEPT = 64
TYPING_MIN_INTERVAL = 1.0


class _Send(Pending):
    """A visitor's message waiting in the writer's batch; every visitor's of the same inbox is stored
    in one envelope (actions.visitor_store), or, if that is refused, each alone."""

    def __init__(self, inbox: Inbox, session: VisitorSession, event: InboundEvent) -> None:
        self.inbox, self.session, self.event = inbox, session, event
        self.combine_key = inbox.pk

    def store(self) -> tuple[float, Any]:
        return self.store_together([self])[0]

    @classmethod
    def store_together(cls, items: Sequence[Pending]) -> list[tuple[float, Any]]:
        sends = [item for item in items if isinstance(item, _Send)]
        stored = actions.visitor_store(sends[0].inbox, [(s.session, s.event) for s in sends])
        return [(0.0, payload) for payload, _created in stored]


class IdentityIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user_id: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=254)
    name: str = Field(default="", max_length=200)
    user_hash: str = Field(default="", max_length=128)


class HelloIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["hello"]
    token: str | None = Field(default=None, max_length=300)
    identity: IdentityIn | None = None
    cursor: dt.datetime | None = None
    context: VisitorContext | None = None
    locale: str = Field(default="", max_length=100)


class SendIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["send"]
    client_id: str = Field(max_length=64)
    text: str = Field(max_length=10_000)
    prechat: dict[str, str] | None = None
    context: VisitorContext | None = None
    # A clicked bot button's payload; checked against what was offered (actions.visitor_send).
    quick_reply: str | None = Field(default=None, max_length=1000)


def _header(scope: dict, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


class VisitorConsumer(DirectJsonWebsocketConsumer):
    """One widget tab. Joins `visitor.<key>` after `hello`, so it hears its own visitor's events only."""

    session: VisitorSession | None = None
    refused = False  # closed at the handshake: frames that were already on their way are dropped

    async def connect(self) -> None:
        self.ip = (self.scope.get("client") or ("unknown", 0))[0]
        self.browser = _header(self.scope, b"user-agent")[:300]
        self.language = "en"
        self.group: str | None = None
        self.conversations: set[str] = set()
        self.typing_sent: tuple[str, bool, float] = ("", False, 0.0)
        self.tasks: set[asyncio.Task] = set()
        # client_ids this socket sent and got acked: their widget.message echo (meant for the visitor's
        # other tabs) is not sent back here, which saves a frame per message.
        self.own_client_ids: deque[str] = deque(maxlen=OWN_IDS_KEPT)
        inbox_uuid = str(self.scope["url_route"]["kwargs"]["inbox_uuid"])
        limited, self.inbox = await on_widget_thread(_open)(self.ip, inbox_uuid)
        # Refusals accept first and then close: a close before the handshake reaches the browser as a bare
        # HTTP 403, while the widget needs the code to know why (docs/widget.md).
        if limited:
            await self._refuse(CLOSE_RATE_LIMITED)
            return
        if self.inbox is None:
            await self._refuse(CLOSE_NO_INBOX)
            return
        self.connector = WebchatConnector(self.inbox)
        # This route is open to every origin (websockets.py); the inbox may name its sites.
        if not origin_allowed(_header(self.scope, b"origin"), self.connector.config.allowed_origins):
            await self._refuse(CLOSE_FORBIDDEN)
            return
        await self.accept()

    async def _refuse(self, code: int) -> None:
        self.refused = True
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        for task in list(getattr(self, "tasks", ())):
            task.cancel()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        if self.refused:
            return
        if text_data is None or len(text_data) > MAX_FRAME_CHARS:
            await self._error("bad_frame", "send one JSON object per text frame, at most 16 KB")
            return
        try:
            content = parse_json(text_data, "the frame")
        except UnstorableValue as exc:
            await self._error(exc.code, str(exc))
            return
        if not isinstance(content, dict):
            await self._error("bad_json", "expected a JSON object")
            return
        kind = content.get("type")
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "hello":
            await self._hello(content)
        elif self.session is None:
            await self._error("no_hello", "say hello first")
        elif kind == "send":
            await self._send(content)
        elif kind == "typing":
            await self._typing(content)
        elif kind == "read":
            await self._read(content)
        else:
            await self._error("unknown_type", "unknown frame type")

    async def _hello(self, content: dict) -> None:
        try:
            hello = HelloIn.model_validate(content)
        except ValidationError as exc:
            await self._error("bad_hello", _first_error(exc))
            return
        self.language = pick_language(hello.locale or (hello.context.language if hello.context else ""))
        self.context = hello.context
        secret = self.connector.secrets.get("identity_secret", "") if hello.identity else ""
        try:
            session = open_session(
                str(self.inbox.uuid),
                hello.token,
                identity=hello.identity.model_dump() if hello.identity else None,
                secret=secret,
            )
        except InvalidSession as exc:
            if hello.identity is not None:
                # A forged or stale identity: refuse the connection, never fall back to anonymous.
                await self._error("identity_refused", self._text("identity_refused"), reason=str(exc))
                await self.close(code=CLOSE_FORBIDDEN)
                return
            session = open_session(
                str(self.inbox.uuid), None, identity=None, secret=""
            )  # a lost token: start afresh
        if self.group and self.group != session.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        self.session = session
        self.group = session.group
        # Join before reading history: anything committed from now on arrives live, anything
        # before is in the history, so the two overlap (the widget de-duplicates) but never gap.
        await self.channel_layer.group_add(self.group, self.channel_name)
        cursor = timezone.now()
        messages = await on_widget_thread(self._history)(hello.cursor)
        self.conversations = {m.conversation_id for m in messages}
        await self.send_json(
            {
                "type": "welcome",
                "token": session.token,
                "verified": session.user is not None,
                "cursor": cursor.isoformat(),
                "resumed": hello.cursor is not None,
                "messages": [m.model_dump(mode="json") for m in messages],
            }
        )

    def _history(self, since: dt.datetime | None) -> list:
        assert self.session is not None
        contact = visitor_contact(self.inbox, self.session)
        if contact is None:
            return []
        if since is not None and timezone.is_naive(since):
            since = timezone.make_aware(since, dt.UTC)
        return visitor_history(contact, since)

    async def _send(self, content: dict) -> None:
        assert self.session is not None
        client_id = str(content.get("client_id", ""))[:64]
        try:
            frame = SendIn.model_validate(content)
        except ValidationError as exc:
            await self._error("bad_message", _first_error(exc), client_id=client_id)
            return
        if frame.context is not None:
            self.context = frame.context
        try:
            wait, payload = await writer.submit(self._prepare, frame, reads_only=True)
        except ConnectorError as exc:
            await self._error("bad_message", exc.reason, client_id=client_id)
            return
        except InvalidIdentity as exc:
            await self._error("bad_identity", str(exc), client_id=client_id)
            return
        except ActionError as exc:
            await self._error(exc.code, str(exc), client_id=client_id)
            return
        except DatabaseError:
            # Not stored: the widget keeps it in its outbox and sends it again.
            await self._error(
                "unavailable",
                "could not store the message; it will be sent again",
                client_id=client_id,
                retry_after=2,
            )
            return
        if payload is None:
            await self._error(
                "rate_limited", self._text("rate_limited"), client_id=client_id, retry_after=round(wait, 1)
            )
            return
        self.conversations.add(payload.conversation_id)
        self.own_client_ids.append(frame.client_id)
        await self.send_json(
            {"type": "ack", "client_id": frame.client_id, "message": payload.model_dump(mode="json")}
        )

    def _prepare(self, frame: SendIn) -> tuple[float, None] | _Send:
        """Run by the writer: the rate limit and the message's event, or (seconds to wait, None) when
        over the limit. The writer stores the event with the batch's others and answers (0, payload)."""
        assert self.session is not None
        wait = ratelimit.check_send(self.session.key, self.ip)
        if wait:
            return wait, None
        event = actions.visitor_event(
            self.inbox,
            self.session,
            client_id=frame.client_id,
            text=frame.text,
            context=self.context,
            browser=self.browser,
            prechat=frame.prechat,
            quick_reply=frame.quick_reply,
            connector=self.connector,
        )
        return _Send(self.inbox, self.session, event)

    async def _typing(self, content: dict) -> None:
        conversation = str(content.get("conversation_id", ""))
        typing = bool(content.get("typing"))
        if conversation not in self.conversations:
            return  # never a conversation that is not the visitor's own; silently, it is only a hint
        last_conversation, last_state, last_at = self.typing_sent
        now = time.monotonic()
        if (last_conversation, last_state) == (conversation, typing) and now - last_at < TYPING_MIN_INTERVAL:
            return
        self.typing_sent = (conversation, typing, now)
        await on_widget_thread(actions.visitor_typing)(conversation, typing)

    async def _read(self, content: dict) -> None:
        assert self.session is not None
        ids = content.get("ids")
        if not isinstance(ids, list):
            await self._error("bad_read", "ids must be a list of message ids")
            return
        valid = []
        for value in ids[: actions.MAX_READ_IDS]:
            try:
                valid.append(str(uuid.UUID(str(value))))
            except ValueError:
                continue
        if valid:
            # In the background: a retry must not hold up this socket's other frames and events.
            task = asyncio.create_task(self._mark_read(valid))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _mark_read(self, ids: list[str]) -> None:
        assert self.session is not None
        # Once is enough: a receipt for a reply still being delivered is applied when it is sent.
        await on_widget_thread(actions.visitor_read)(self.inbox, self.session, ids)

    async def omnidesk_event(self, message: dict) -> None:
        event = message["event"]
        conversation = event.get("conversation_id") or (event.get("message") or {}).get("conversation_id")
        if conversation:
            self.conversations.add(conversation)
        message = event.get("message") or {}
        if message.get("direction") == "in" and message.get("client_id") in self.own_client_ids:
            return  # this tab sent it and has its ack
        await self.send_json(event)

    def _text(self, key: str) -> str:
        with translation.override(self.language):
            return str(STRINGS[key])

    async def _error(self, code: str, detail: str, **extra: Any) -> None:
        await self.send_json({"type": "error", "code": code, "detail": detail, **extra})


def _open(ip: str, inbox_uuid: str) -> tuple[bool, Inbox | None]:
    """(over the connection limit, the enabled web chat inbox or None), in one trip to the thread."""
    if ratelimit.check_connect(ip):
        return True, None
    try:
        key = uuid.UUID(inbox_uuid)
    except ValueError:
        return False, None
    return False, Inbox.objects.filter(uuid=key, kind="webchat", enabled=True).first()


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "frame"
    return f"{where}: {err['msg']}"


class UnknownRouteConsumer(DirectJsonWebsocketConsumer):
    """Any other /ws/ path: accepted only to be closed with 4404, never an error at the handshake."""

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=CLOSE_NO_INBOX)
