"""What rules know of a conversation at one event, each part read once and only if a condition asks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from django.utils import timezone

from omnidesk.accounts.models import Team
from omnidesk.conversations import queries
from omnidesk.conversations.constants import Direction, MessageKind
from omnidesk.conversations.models import Conversation, Message
from omnidesk.db.rows import read_by_pk
from omnidesk.sla.business_hours import is_open
from omnidesk.sla.clock import conversation_schedule

from .queries import contact_facts


class Facts:
    """The conversation as it stands (rules that ran before update it: `changed`), plus the event's data."""

    def __init__(
        self,
        conversation: Conversation,
        event: str,
        *,
        message: Message | None = None,
        survey_kind: str = "",
        score: int | None = None,
        sla_metric: str = "",
        started_by: str = "",
        now: dt.datetime | None = None,
    ) -> None:
        self.conversation = conversation
        self.event = event
        self.message = message
        self.inbox_id = conversation.current_inbox_id
        inbox = message._state.fields_cache.get("inbox") if message is not None else None
        if (
            inbox is not None
            and inbox.pk == self.inbox_id
            and "current_inbox" not in conversation._state.fields_cache
        ):
            conversation.current_inbox = inbox  # the message came in on it: no read
        self.channel = conversation.current_inbox.kind
        self.language = conversation.language or (message.language if message else "")
        self.priority = conversation.priority
        self.status = conversation.status
        self.text = message.text if message is not None else ""
        self.survey_kind = survey_kind
        self.score = score
        self.sla_metric = sla_metric
        self.now = now or timezone.now()
        if started_by:  # known to the caller (the customer's message that opened it): no read
            self.__dict__["started_by"] = started_by

    @cached_property
    def _tags(self) -> set[str]:
        return set(queries.tag_names(self.conversation.pk))

    @property
    def tags(self) -> frozenset[str]:
        return frozenset(self._tags)

    @cached_property
    def _contact(self) -> tuple[Mapping[str, Any], bool]:
        """The contact's attributes and VIP flag: the two columns rules read, not the whole row."""
        cached = self.conversation._state.fields_cache.get("contact")
        if cached is not None:
            return cached.attributes or {}, bool(cached.vip)
        return contact_facts(self.conversation.contact_id)

    @property
    def attributes(self) -> Mapping[str, Any]:
        return self._contact[0]

    @property
    def vip(self) -> bool:
        return bool(self.conversation.vip or self._contact[1])

    @cached_property
    def started_by(self) -> str:
        """ "customer" when the conversation's first message came from them, "agent" when we wrote first
        (a conversation we start has no message yet while its first is being sent)."""
        first = (
            Message.objects.filter(conversation_id=self.conversation.pk)
            .exclude(kind__in=(MessageKind.EVENT, MessageKind.NOTE))
            .order_by("created_at", "id")
            .values_list("direction", flat=True)
            .first()
        )
        if first is None:
            return "customer" if self.conversation.last_inbound_at is not None else "agent"
        return "customer" if first == Direction.IN else "agent"

    @cached_property
    def open_now(self) -> bool:
        conv = self.conversation
        if conv.team_id and "team" not in conv._state.fields_cache:
            conv.team = read_by_pk(Team, conv.team_id)
        schedule = conversation_schedule(conv)
        return True if schedule is None else is_open(schedule, self.now)

    # --- what earlier rules changed ------------------------------------------------------------

    def tags_changed(self, tags: list[str]) -> None:
        self.__dict__["_tags"] = set(tags)
