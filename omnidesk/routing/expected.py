"""What to tell a customer about when they will hear back: business hours plus the current queue."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.utils import formats, timezone, translation
from django.utils.translation import gettext, ngettext

from omnidesk.analytics.workforce import average_speed_of_answer
from omnidesk.conversations.models import Conversation
from omnidesk.inboxes.models import Inbox
from omnidesk.sla.business_hours import add_business_time, is_open, next_open
from omnidesk.sla.clock import hours_of

from .engine import CHANNEL_GROUP, Snapshot, capacity_key, waiting
from .queries import DEFAULT_AHT_SECONDS, handle_time_seconds


@dataclass(frozen=True)
class ExpectedReply:
    open_now: bool
    opens_at: dt.datetime | None  # when closed: the next opening (aware, in the schedule's zone)
    reply_by: dt.datetime  # aware, in the schedule's zone (UTC without hours)
    wait_seconds: int  # open time the queue needs before an agent answers
    queue_length: int
    agents_online: int
    sentence: str  # in the requested language

    def as_dict(self) -> dict:
        return {
            "open_now": self.open_now,
            "opens_at": self.opens_at.isoformat() if self.opens_at else None,
            "reply_by": self.reply_by.isoformat(),
            "wait_seconds": self.wait_seconds,
            "queue_length": self.queue_length,
            "agents_online": self.agents_online,
            "sentence": self.sentence,
        }


def estimate_wait_seconds(inbox: Inbox, *, now: dt.datetime) -> tuple[int, int, int]:
    """(seconds, queue length, agents online) for a new contact on `inbox`.

    The larger of the time to drain the queue ahead through the free and freeing slots, and Erlang C's
    mean wait (ASA) at the last hour's arrival rate with the online agents' capacity as servers.
    """
    group = CHANNEL_GROUP.get(inbox.kind, inbox.kind)
    kinds = [k for k, g in CHANNEL_GROUP.items() if g == group]
    aht = handle_time_seconds(kinds, since=now - dt.timedelta(hours=24)) or DEFAULT_AHT_SECONDS.get(
        group, 900
    )
    queue = waiting().filter(current_inbox=inbox)
    if inbox.default_team_id:
        queue = queue | waiting().filter(team_id=inbox.default_team_id)
    queue_length = queue.count()
    agents = Snapshot.read().qualified(inbox.pk, inbox.default_team_id, "", {})
    slots = sum(a.capacity.get(capacity_key(a.capacity, inbox.kind), 0) for a in agents)
    if slots == 0:
        # Nobody on shift for this channel: about one handle time once someone is.
        return int(aht), queue_length, 0
    free = sum(a.spare(inbox.kind) for a in agents)
    drain = max(queue_length - free + 1, 0) * aht / slots
    arrivals = Conversation.objects.filter(
        current_inbox__kind__in=kinds, created_at__gte=now - dt.timedelta(hours=1)
    ).count()
    traffic = arrivals * aht / 3600
    asa = average_speed_of_answer(slots, traffic, aht) if traffic else 0.0
    if not math.isfinite(asa):
        asa = drain + aht  # arrivals outrun capacity: the queue only grows
    return int(max(drain, asa)), queue_length, len(agents)


def expected_reply(
    inbox: Inbox, now: dt.datetime | None = None, *, language: str | None = None
) -> ExpectedReply:
    """When the customer can expect an answer, and a sentence saying so in `language` (the customer's)."""
    now = now or timezone.now()
    schedule = hours_of(inbox)
    wait, queue_length, agents = estimate_wait_seconds(inbox, now=now)
    wait = max(math.ceil(wait / 300.0) * 300, 300)  # promise in five-minute steps, never "now"
    zone = schedule.zone if schedule else dt.UTC
    if schedule is None:
        open_now, opens_at, reply_by = True, None, now + dt.timedelta(seconds=wait)
    else:
        open_now = is_open(schedule, now)
        opens_at = None if open_now else next_open(schedule, now).astimezone(zone)
        reply_by = add_business_time(schedule, now, dt.timedelta(seconds=wait))
    reply_by = reply_by.astimezone(zone)
    with translation.override(language or translation.get_language()):
        sentence = _sentence(open_now, opens_at, reply_by, wait, now.astimezone(zone))
    return ExpectedReply(open_now, opens_at, reply_by, wait, queue_length, agents, sentence)


def _sentence(
    open_now: bool, opens_at: dt.datetime | None, reply_by: dt.datetime, wait: int, now: dt.datetime
) -> str:
    def when(value: dt.datetime, *, reference: dt.datetime) -> str:
        # "Monday 09:00 CET" when it is another day, "11:00" when the same day as the reference.
        clock = formats.time_format(value, "H:i")
        if value.date() == reference.date():
            return clock
        return f"{formats.date_format(value, 'l')} {clock}"

    zone_name = reply_by.strftime("%Z")
    if not open_now and opens_at is not None:
        return gettext("We are closed until %(opens)s %(zone)s; expect an answer by %(reply_by)s.") % {
            "opens": when(opens_at, reference=now),
            "zone": zone_name,
            "reply_by": when(reply_by, reference=opens_at),
        }
    minutes = wait // 60
    if minutes < 60 and reply_by.date() == now.date():
        return ngettext(
            "Expect an answer within %(minutes)d minute.",
            "Expect an answer within %(minutes)d minutes.",
            minutes,
        ) % {"minutes": minutes}
    return gettext("Expect an answer by %(reply_by)s %(zone)s.") % {
        "reply_by": when(reply_by, reference=now),
        "zone": zone_name,
    }
