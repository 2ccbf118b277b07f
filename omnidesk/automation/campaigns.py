"""Proactive campaigns: audiences, consent, quiet hours, throughput, steps and their report (docs/automation.md).

A campaign's messages go out through the spine like any reply (start_conversation, check_send_reply, the
deliver task), one conversation per recipient, left pending so that a reply lands in it and reopens it.
The dispatcher (`dispatch`, a task) sends what is due, as fast as the channel's throughput allows, and
enqueues itself again: never a loop that holds a worker, never a campaign left waiting for nobody.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import zoneinfo
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tasks import task

from omnidesk.accounts.audit import audit
from omnidesk.accounts.models import AgentProfile
from omnidesk.contacts.models import Contact, ContactIdentity
from omnidesk.conversations import actions as spine
from omnidesk.conversations.constants import ACTIVE_STATUSES, DeliveryStatus, Direction, SenderType, Status
from omnidesk.conversations.errors import ActionError
from omnidesk.conversations.models import Conversation, Message
from omnidesk.inboxes.contract import connector_class
from omnidesk.inboxes.models import Inbox

from . import consent, effects, engine, throughput
from .constants import CampaignKind, CampaignStatus, RecipientState, SkipReason
from .models import Campaign, CampaignStep, ContactEvent, Recipient

logger = logging.getLogger(__name__)

BATCH = 200  # recipients read at a time
COMMIT_EVERY = 10  # recipients sent in one transaction
TIME_BUDGET = 2.0  # seconds one dispatcher run works before it makes way for other tasks
LEASE = dt.timedelta(seconds=60)
STALE = dt.timedelta(minutes=2)  # a running campaign silent this long is started again
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
EVENT_NAME = re.compile(r"^[a-z0-9_.-]{1,64}$")


# --- setting up --------------------------------------------------------------------------------------


def check_audience(audience: dict[str, Any]) -> dict[str, Any]:
    """The audience with only what it may hold; ActionError says what is wrong."""
    if not isinstance(audience, dict):
        raise ActionError("bad_audience", "the audience must be an object")
    allowed = {"attributes", "languages", "event", "event_days", "no_event"}
    if set(audience) - allowed:
        raise ActionError("bad_audience", f"the audience may only use {', '.join(sorted(allowed))}")
    attributes = audience.get("attributes") or {}
    if not isinstance(attributes, dict) or not all(
        ATTRIBUTE_NAME.match(str(k)) and "__" not in str(k) for k in attributes
    ):
        raise ActionError("bad_audience", "attribute names are letters, digits, - and _")
    for key in ("event", "no_event"):
        if audience.get(key) and not EVENT_NAME.match(str(audience[key])):
            raise ActionError("bad_audience", "event names are lower-case letters, digits, '.', '-' and '_'")
    days = audience.get("event_days")
    if days not in (None, "") and (not isinstance(days, int) or days < 1):
        raise ActionError("bad_audience", "event_days is a whole number of days")
    return {k: v for k, v in audience.items() if v not in (None, "", [], {})}


def check_save_campaign(
    data: dict[str, Any], *, campaign: Campaign | None = None, by: AgentProfile | None = None
) -> Campaign:
    """Validate a campaign and its steps from a form or the API and save them (only while a draft)."""
    if campaign is not None and campaign.status != CampaignStatus.DRAFT:
        raise ActionError("not_draft", _("Only a draft can be changed; pause it and copy it instead."))
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 100:
        raise ActionError("bad_name", _("A campaign needs a name of at most 100 characters."))
    kind = data.get("kind")
    if kind not in CampaignKind.values:
        raise ActionError("bad_kind", _("Unknown kind of campaign."))
    inbox = data.get("inbox")
    if not isinstance(inbox, Inbox) or connector_class(inbox.kind) is None:
        raise ActionError("bad_inbox", _("Choose a channel that can send."))
    scheduled_at = data.get("scheduled_at")
    if kind == CampaignKind.SCHEDULED and scheduled_at is None:
        raise ActionError("bad_schedule", _("A scheduled campaign needs a time."))
    trigger = str(data.get("trigger_event") or "").strip()
    if kind == CampaignKind.TRIGGERED and not EVENT_NAME.match(trigger):
        raise ActionError("bad_trigger", _("A triggered campaign needs the event's name (e.g. signed_up)."))
    stop_event = str(data.get("stop_event") or "").strip()
    if stop_event and not EVENT_NAME.match(stop_event):
        raise ActionError("bad_trigger", _("Event names are lower-case letters, digits, '.', '-' and '_'."))
    steps = data.get("steps") or []
    if not steps or not all(
        str(s.get("text") or "").strip() or (s.get("template") or {}).get("name") for s in steps
    ):
        raise ActionError("bad_steps", _("Every step needs a text or a template."))
    quiet = data.get("quiet_start"), data.get("quiet_end")
    if (quiet[0] is None) != (quiet[1] is None) or (quiet[0] is not None and quiet[0] == quiet[1]):
        raise ActionError("bad_quiet", _("Quiet hours need both a start and an end, and they differ."))
    tz = str(data.get("time_zone") or "UTC")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ActionError("bad_time_zone", _("Unknown time zone.")) from None
    audience = check_audience(data.get("audience") or {})
    with transaction.atomic():
        campaign = campaign or Campaign()
        campaign.name, campaign.kind, campaign.inbox = name, kind, inbox
        campaign.audience, campaign.scheduled_at = (
            audience,
            scheduled_at if kind == CampaignKind.SCHEDULED else None,
        )
        campaign.trigger_event = trigger if kind == CampaignKind.TRIGGERED else ""
        campaign.stop_event, campaign.stop_on_reply = stop_event, bool(data.get("stop_on_reply", True))
        campaign.marketing = bool(data.get("marketing", True))
        campaign.quiet_start, campaign.quiet_end, campaign.time_zone = quiet[0], quiet[1], tz
        campaign.save()
        campaign.steps.all().delete()
        CampaignStep.objects.bulk_create(
            CampaignStep(
                campaign=campaign,
                position=n,
                delay_minutes=max(0, int(s.get("delay_minutes") or 0)),
                text=str(s.get("text") or "").strip(),
                translations=s.get("translations") or {},
                template=s.get("template") or {},
            )
            for n, s in enumerate(steps)
        )
        audit(getattr(by, "user", None), "automation.campaign_saved", campaign, name=name)
    return campaign


def start(campaign: Campaign, *, by: AgentProfile | None = None) -> Campaign:
    """Send it now, at its time, or from now on when its event arrives."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.PAUSED):
            raise ActionError("not_startable", _("This campaign has already started."))
        if campaign.kind == CampaignKind.TRIGGERED:
            campaign.status = CampaignStatus.ACTIVE
        elif (
            campaign.kind == CampaignKind.SCHEDULED
            and campaign.scheduled_at
            and campaign.scheduled_at > timezone.now()
        ):
            campaign.status = CampaignStatus.SCHEDULED
        else:
            campaign.status = CampaignStatus.RUNNING
        campaign.error = ""
        campaign.save(update_fields=["status", "error"])
        run_at = campaign.scheduled_at if campaign.status == CampaignStatus.SCHEDULED else None
        _dispatch_soon(campaign.pk, run_at)
        audit(getattr(by, "user", None), "automation.campaign_started", campaign, status=campaign.status)
    return campaign


def pause(campaign: Campaign, *, by: AgentProfile | None = None) -> Campaign:
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status in (CampaignStatus.RUNNING, CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE):
            campaign.status = CampaignStatus.PAUSED
            campaign.save(update_fields=["status"])
            audit(getattr(by, "user", None), "automation.campaign_paused", campaign)
    return campaign


def _dispatch_soon(campaign_id: int, run_at: dt.datetime | None = None) -> None:
    if run_at is None:
        transaction.on_commit(lambda: dispatch_campaign.enqueue(campaign_id))
    else:
        transaction.on_commit(lambda: dispatch_campaign.using(run_after=run_at).enqueue(campaign_id))


# --- who gets it --------------------------------------------------------------------------------------------


def identity_kind(inbox: Inbox) -> str:
    cls = connector_class(inbox.kind)
    return cls.identity.kind if cls is not None else ""


def audience(campaign: Campaign, now: dt.datetime | None = None) -> QuerySet[Contact]:
    """Contacts the campaign's audience names who have an address on its channel."""
    now = now or timezone.now()
    found = campaign.audience or {}
    qs = Contact.objects.filter(merged_into__isnull=True)
    for name, value in (found.get("attributes") or {}).items():
        qs = qs.filter(**{f"attributes__{name}": value})
    if found.get("languages"):
        wanted = Q()
        for code in found["languages"]:
            wanted |= Q(language__iexact=code) | Q(language__istartswith=f"{code}-")
        qs = qs.filter(wanted)
    if found.get("event"):
        since = now - dt.timedelta(days=int(found.get("event_days") or 36500))
        qs = qs.filter(
            Exists(
                ContactEvent.objects.filter(
                    contact=OuterRef("pk"), name=found["event"], occurred_at__gte=since
                )
            )
        )
    if found.get("no_event"):
        qs = qs.filter(~Exists(ContactEvent.objects.filter(contact=OuterRef("pk"), name=found["no_event"])))
    # Reachable through this inbox as a reply is (outbound.reply_identity): an identity scoped to another
    # inbox (another widget's visitor, another API integration's customer id) is not an address here.
    reachable = ContactIdentity.objects.filter(
        Q(scope="") | Q(scope=str(campaign.inbox.uuid)),
        contact=OuterRef("pk"),
        kind=identity_kind(campaign.inbox),
    )
    return qs.filter(Exists(reachable))


def materialize(campaign: Campaign, now: dt.datetime) -> int:
    """The audience as first-step recipients, in chunks; running it again adds nobody twice."""
    made = 0
    chunk: list[Recipient] = []
    for contact_id in (
        audience(campaign, now).order_by("pk").values_list("pk", flat=True).iterator(chunk_size=5000)
    ):
        chunk.append(Recipient(campaign=campaign, contact_id=contact_id, step=0, due_at=now))
        if len(chunk) == 5000:
            made += len(Recipient.objects.bulk_create(chunk, ignore_conflicts=True))
            chunk = []
    if chunk:
        made += len(Recipient.objects.bulk_create(chunk, ignore_conflicts=True))
    Campaign.objects.filter(pk=campaign.pk).update(materialized_at=now)
    return made


def contact_zone(campaign: Campaign, contact: Contact) -> zoneinfo.ZoneInfo:
    for name in (contact.time_zone, campaign.time_zone):
        if name:
            try:
                return zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return zoneinfo.ZoneInfo("UTC")


def after_delay(campaign: Campaign, contact: Contact, start: dt.datetime, minutes: int) -> dt.datetime:
    """`minutes` after `start`; whole days are counted on the contact's wall clock, so "a day later" is the
    same local time across a daylight-saving change."""
    if minutes and minutes % 1440 == 0:
        zone = contact_zone(campaign, contact)
        local = start.astimezone(zone).replace(tzinfo=None) + dt.timedelta(days=minutes // 1440)
        return local.replace(tzinfo=zone).astimezone(dt.UTC)
    return start + dt.timedelta(minutes=minutes)


def quiet_until(campaign: Campaign, contact: Contact, now: dt.datetime) -> dt.datetime | None:
    """The end of the quiet hours in the contact's time zone if `now` falls in them, else None."""
    begin, end = campaign.quiet_start, campaign.quiet_end
    if begin is None or end is None:
        return None
    zone = contact_zone(campaign, contact)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if begin < end:
        quiet, day = begin <= clock < end, local.date()
    else:  # across midnight (21:00–08:00)
        quiet = clock >= begin or clock < end
        day = local.date() + dt.timedelta(days=1) if clock >= begin else local.date()
    if not quiet:
        return None
    # A wall time inside a daylight-saving gap reads with the offset before it: a moment just after the gap.
    return dt.datetime.combine(day, end).replace(tzinfo=zone).astimezone(dt.UTC)


# --- business events --------------------------------------------------------------------------------------


def record_event(
    contact: Contact, name: str, key: str, data: dict[str, Any], occurred_at: dt.datetime
) -> tuple[ContactEvent, bool]:
    """Keep a business event (once per name and key) and start or stop the campaigns it names."""
    if not EVENT_NAME.match(name):
        raise ActionError("bad_event", "event names are lower-case letters, digits, '.', '-' and '_'")
    try:
        with transaction.atomic():
            event = ContactEvent.objects.create(
                contact=contact, name=name, key=key[:128], data=data, occurred_at=occurred_at
            )
            # A series a later event makes moot (the payment arrived): its waiting messages stop.
            Recipient.objects.filter(
                contact=contact, state=RecipientState.PENDING, campaign__stop_event=name
            ).update(state=RecipientState.STOPPED, reason=SkipReason.STOP_EVENT)
            for campaign in Campaign.objects.filter(
                status=CampaignStatus.ACTIVE, kind=CampaignKind.TRIGGERED, trigger_event=name
            ):
                first = campaign.steps.order_by("position").first()
                if first is None:
                    continue
                due = after_delay(campaign, contact, occurred_at, first.delay_minutes)
                Recipient.objects.create(
                    campaign=campaign, contact=contact, step=0, occurrence=str(event.pk), due_at=due
                )
                _dispatch_soon(campaign.pk, max(due, timezone.now()))
    except IntegrityError:
        return ContactEvent.objects.get(name=name, key=key[:128]), False
    return event, True


# --- sending ------------------------------------------------------------------------------------------------


def footer(campaign: Campaign, contact: Contact, inbox: Inbox, language: str) -> str:
    """How to opt out, in the customer's language: a link where the channel shows links, else a keyword."""
    cls = connector_class(inbox.kind)
    with translation.override(language):
        if cls is not None and (cls.capabilities.html or cls.capabilities.subject):
            link = settings.PUBLIC_URL + reverse(
                "automation_public:unsubscribe", args=[consent.unsubscribe_token(contact, inbox.kind)]
            )
            return _("Unsubscribe: %(link)s") % {"link": link}
        return _("Reply STOP to unsubscribe.")


def _stop_reason(campaign: Campaign, recipient: Recipient) -> str:
    """Why a later step of a series should not go (the customer replied, the stopping event came)."""
    if recipient.step == 0:
        return ""
    earlier = Recipient.objects.filter(
        campaign=campaign,
        contact_id=recipient.contact_id,
        occurrence=recipient.occurrence,
        step=recipient.step - 1,
    ).first()
    if earlier is None or earlier.state != RecipientState.SENT:
        return SkipReason.STOP_EVENT
    if (
        campaign.stop_on_reply
        and earlier.conversation_id
        and Message.objects.filter(
            conversation_id=earlier.conversation_id, direction=Direction.IN, created_at__gt=earlier.sent_at
        ).exists()
    ):
        return SkipReason.REPLIED
    return ""


def send_one(
    campaign: Campaign, steps: dict[int, CampaignStep], recipient: Recipient, now: dt.datetime
) -> str:
    """Send one recipient's step (a savepoint of its own: a failure undoes only this recipient)."""
    step = steps.get(recipient.step)
    contact = recipient.contact
    inbox = campaign.inbox
    if step is None:
        return _finish(recipient, RecipientState.FAILED, "the step no longer exists")
    if reason := _stop_reason(campaign, recipient):
        return _finish(recipient, RecipientState.STOPPED, reason)
    conversation = None
    if recipient.step > 0:
        earlier = (
            Recipient.objects.filter(
                campaign=campaign,
                contact_id=contact.pk,
                occurrence=recipient.occurrence,
                step=recipient.step - 1,
            )
            .values_list("conversation_id", flat=True)
            .first()
        )
        conversation = (
            Conversation.objects.select_related("contact", "current_inbox")
            .filter(pk=earlier, status__in=ACTIVE_STATUSES)
            .first()
        )
    try:
        with transaction.atomic():
            # Claimed first, in the transaction that sends: a second dispatcher (a lease that ran out, a
            # retried batch) finds it taken and sends nothing; a rollback leaves it pending again.
            if not Recipient.objects.filter(pk=recipient.pk, state=RecipientState.PENDING).update(
                state=RecipientState.SENT, sent_at=now
            ):
                return RecipientState.SENT
            if conversation is None:
                conversation = spine.start_conversation(
                    contact, inbox, subject=campaign.name, status=Status.PENDING, language=contact.language
                )
                conversation.contact = contact
            language = effects.customer_language(conversation)
            text = (
                step.translations.get(language) or step.translations.get(language.split("-")[0]) or step.text
            )
            text = f"{text}\n\n{footer(campaign, contact, inbox, language)}" if text else text
            with engine.quiet():
                message = effects.send_reply(
                    conversation,
                    {"text": text, "template": step.template},
                    agent=None,
                    sender_type=SenderType.SYSTEM,
                    meta={"campaign": campaign.pk, "recipient": recipient.pk},
                )
            recipient.state, recipient.sent_at, recipient.reason = RecipientState.SENT, now, ""
            recipient.conversation, recipient.message = conversation, message
            recipient.save(update_fields=["reason", "conversation", "message"])
            following = steps.get(recipient.step + 1)
            if following is not None:
                Recipient.objects.get_or_create(
                    campaign=campaign,
                    contact=contact,
                    step=recipient.step + 1,
                    occurrence=recipient.occurrence,
                    defaults={"due_at": after_delay(campaign, contact, now, following.delay_minutes)},
                )
    except ActionError as exc:
        state = (
            RecipientState.SKIPPED if exc.code in ("no_identity", "window_closed") else RecipientState.FAILED
        )
        reason = SkipReason.NEEDS_TEMPLATE if exc.code == "window_closed" else str(exc)
        return _finish(recipient, state, reason)
    return RecipientState.SENT


def _finish(recipient: Recipient, state: str, reason: str) -> str:
    Recipient.objects.filter(pk=recipient.pk, state=RecipientState.PENDING).update(
        state=state, reason=str(reason)[:300]
    )
    return state


def _claim(campaign_id: int, now: dt.datetime) -> Campaign | str:
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().select_related("inbox").filter(pk=campaign_id).first()
        if campaign is None:
            return "gone"
        if campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING, CampaignStatus.ACTIVE):
            return campaign.status
        if campaign.dispatching_until and campaign.dispatching_until > now:
            # Another run is at work: look again when its lease ends, in case it finished just before our rows.
            _dispatch_soon(campaign.pk, campaign.dispatching_until)
            return "busy"
        if campaign.status == CampaignStatus.SCHEDULED:
            if campaign.scheduled_at and campaign.scheduled_at > now:
                _dispatch_soon(campaign.pk, campaign.scheduled_at)
                return "early"
            campaign.status = CampaignStatus.RUNNING
        campaign.started_at = campaign.started_at or now
        campaign.dispatching_until, campaign.heartbeat_at = now + LEASE, now
        campaign.save(update_fields=["status", "started_at", "dispatching_until", "heartbeat_at"])
    return campaign


def dispatch(campaign_id: int, *, now_fn: Any = timezone.now) -> str:
    """Send what is due within the throughput allowed, then enqueue the next run (docs/automation.md)."""
    started = time.monotonic()
    claimed = _claim(campaign_id, now_fn())
    if isinstance(claimed, str):
        return claimed
    campaign = claimed
    outcome = "idle"
    next_run: dt.datetime | None = None
    try:
        if campaign.kind != CampaignKind.TRIGGERED and campaign.materialized_at is None:
            materialize(campaign, now_fn())
        steps = {s.position: s for s in campaign.steps.all()}
        kind = campaign.inbox.kind
        while True:
            now = now_fn()
            due = list(
                Recipient.objects.filter(campaign=campaign, state=RecipientState.PENDING, due_at__lte=now)
                .select_related("contact")
                .order_by("due_at", "id")[:BATCH]
            )
            if not due:
                break
            if time.monotonic() - started > TIME_BUDGET:  # asked after the read: nothing left means done
                next_run, outcome = now, "yield"
                break
            sendable = []
            for recipient in due:
                contact = recipient.contact
                skip = consent.may_send(contact, kind, marketing=campaign.marketing)
                if skip:
                    _finish(recipient, RecipientState.SKIPPED, skip)
                elif (until := quiet_until(campaign, contact, now)) is not None:
                    Recipient.objects.filter(pk=recipient.pk).update(due_at=until)
                else:
                    sendable.append(recipient)
            if not sendable:
                continue
            backlog = Message.objects.filter(status=DeliveryStatus.QUEUED, inbox=campaign.inbox).count()
            if backlog > 2 * throughput.rate_of(campaign.inbox):
                # Deliveries lag behind: more now would only queue, and then leave as a burst the provider
                # refuses. Look again shortly.
                next_run, outcome = now + dt.timedelta(seconds=0.5), "backlog"
                break
            grant, _rate = throughput.take(campaign.inbox, len(sendable))
            granted = sendable[: grant.count]
            for start_at in range(0, len(granted), COMMIT_EVERY):
                # A few recipients per transaction (each in a savepoint of its own): one commit for them
                # all, and the write lock released often enough for agents' replies between batches.
                with transaction.atomic():
                    for recipient in granted[start_at : start_at + COMMIT_EVERY]:
                        try:
                            send_one(campaign, steps, recipient, now)
                        except Exception as exc:  # one recipient's failure never stops the rest
                            logger.exception("campaign %s: recipient %s failed", campaign.pk, recipient.pk)
                            _finish(recipient, RecipientState.FAILED, f"internal error: {type(exc).__name__}")
            if grant.count < len(sendable):
                next_run, outcome = now + dt.timedelta(seconds=max(grant.wait, 0.05)), "paced"
                break
        if next_run is None:
            upcoming = (
                Recipient.objects.filter(campaign=campaign, state=RecipientState.PENDING)
                .order_by("due_at")
                .values_list("due_at", flat=True)
                .first()
            )
            next_run = upcoming
            if upcoming is None and campaign.kind != CampaignKind.TRIGGERED:
                outcome = "done"
    except Exception as exc:  # never a campaign left "running" by a run that died: say why, try later
        logger.exception("campaign %s: dispatch failed", campaign.pk)
        Campaign.objects.filter(pk=campaign.pk).update(error=f"{type(exc).__name__}: {exc}"[:2000])
        next_run, outcome = now_fn() + dt.timedelta(seconds=30), "error"
    with transaction.atomic():
        fields: dict[str, Any] = {"dispatching_until": None, "heartbeat_at": now_fn()}
        if outcome == "done":
            fields.update(status=CampaignStatus.DONE, finished_at=now_fn())
        Campaign.objects.filter(pk=campaign.pk).update(**fields)
        if next_run is not None and outcome != "done":
            _dispatch_soon(campaign.pk, next_run if next_run > now_fn() else None)
    return outcome


def revive(now: dt.datetime | None = None) -> int:
    """Start again campaigns whose dispatcher went silent (a worker killed mid-run, a lost task): a campaign
    is never left "scheduled" or "running" with nobody working on it. Called by the campaign screens, the
    events API and each dispatch."""
    now = now or timezone.now()
    stale = Campaign.objects.filter(
        Q(status=CampaignStatus.SCHEDULED, scheduled_at__lte=now - STALE)
        | Q(status__in=(CampaignStatus.RUNNING, CampaignStatus.ACTIVE))
    ).filter(Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lte=now - STALE))
    stale = stale.filter(Q(dispatching_until__isnull=True) | Q(dispatching_until__lte=now))
    revived = 0
    for campaign in stale:
        waiting = (
            campaign.status == CampaignStatus.SCHEDULED
            or Recipient.objects.filter(
                campaign=campaign, state=RecipientState.PENDING, due_at__lte=now - STALE
            ).exists()
            or (campaign.status == CampaignStatus.RUNNING and campaign.materialized_at is None)
        )
        if waiting:
            with transaction.atomic():
                Campaign.objects.filter(pk=campaign.pk).update(heartbeat_at=now)
                _dispatch_soon(campaign.pk)
            revived += 1
    return revived


@task()
def dispatch_campaign(campaign_id: int) -> str:
    """Send a campaign's due messages within the channel's throughput, then come back for the rest."""
    return dispatch(campaign_id)


# --- what customers write back --------------------------------------------------------------------------------


def on_message(message: Message) -> bool:
    """An opt-out (or opt-in) keyword as the whole message: recorded for the channel, noted for the agents.
    True when it was one: the message needs no bot, queue or SLA clock."""
    word = consent.keyword(message.text)
    if not word or message.inbox is None:
        return False
    conversation = message.conversation
    contact = Contact.objects.get(pk=conversation.contact_id)
    kind = message.inbox.kind
    now = timezone.now()
    with transaction.atomic():
        consent.set_consent(
            contact, kind, opted_out=word == "stop", source=f"keyword:{message.text.strip()[:20]}"
        )
        if word == "stop":
            Recipient.objects.filter(
                contact=contact, state=RecipientState.PENDING, campaign__inbox__kind=kind
            ).update(state=RecipientState.STOPPED, reason=SkipReason.OPTED_OUT)
            Recipient.objects.filter(
                contact=contact,
                campaign__inbox__kind=kind,
                state=RecipientState.SENT,
                opted_out_at__isnull=True,
            ).update(opted_out_at=now)
            note = _("The customer opted out of campaign messages on %(channel)s.")
        else:
            note = _("The customer opted back in to campaign messages on %(channel)s.")
        label = str(getattr(connector_class(kind), "label", kind))
        with engine.quiet():
            spine.add_note(conversation, None, note % {"channel": label}, meta={"consent": word})
            opened_by_it = (
                not Message.objects.filter(
                    conversation=conversation, direction=Direction.OUT, kind="text"
                ).exists()
                and not Message.objects.filter(conversation=conversation, direction=Direction.IN)
                .exclude(pk=message.pk)
                .exists()
            )
            if opened_by_it:
                spine.do_set_status(conversation, Status.RESOLVED)
    return True


def unsubscribe(contact: Contact, kind: str) -> None:
    """The unsubscribe link was followed (and confirmed)."""
    now = timezone.now()
    with transaction.atomic():
        consent.set_consent(contact, kind, opted_out=True, source="link")
        Recipient.objects.filter(
            contact=contact, state=RecipientState.PENDING, campaign__inbox__kind=kind
        ).update(state=RecipientState.STOPPED, reason=SkipReason.OPTED_OUT)
        Recipient.objects.filter(
            contact=contact, campaign__inbox__kind=kind, state=RecipientState.SENT, opted_out_at__isnull=True
        ).update(opted_out_at=now)


# --- the report ----------------------------------------------------------------------------------------------


def report(campaign: Campaign) -> dict[str, Any]:
    """Sent, delivered, read, replied, opted out and failed (with reasons), for the campaign screen."""
    recipients = Recipient.objects.filter(campaign=campaign)
    states = dict(recipients.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    sent = recipients.filter(state=RecipientState.SENT)
    statuses = dict(
        sent.values_list("message__status").annotate(n=Count("id")).values_list("message__status", "n")
    )
    order = [DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ]
    at_least = {s: sum(statuses.get(t, 0) for t in order[i:]) for i, s in enumerate(order)}
    replied = sent.filter(
        Exists(
            Message.objects.filter(
                conversation=OuterRef("conversation"),
                direction=Direction.IN,
                created_at__gt=OuterRef("sent_at"),
            )
        )
    ).count()
    reasons = list(
        recipients.filter(state__in=(RecipientState.SKIPPED, RecipientState.FAILED, RecipientState.STOPPED))
        .values_list("state", "reason")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    delivery_errors = list(
        sent.filter(message__status=DeliveryStatus.FAILED)
        .values_list("message__error")
        .annotate(n=Count("id"))
        .order_by("-n")[:20]
    )
    labels = dict(SkipReason.choices)
    return {
        "recipients": sum(states.values()),
        "waiting": states.get(RecipientState.PENDING, 0),
        "queued": statuses.get(DeliveryStatus.QUEUED, 0),
        "sent": at_least[DeliveryStatus.SENT],
        "delivered": at_least[DeliveryStatus.DELIVERED],
        "read": at_least[DeliveryStatus.READ],
        "replied": replied,
        "opted_out": recipients.filter(Q(opted_out_at__isnull=False) | Q(reason=SkipReason.OPTED_OUT))
        .values("contact")
        .distinct()
        .count(),
        "failed": states.get(RecipientState.FAILED, 0) + statuses.get(DeliveryStatus.FAILED, 0),
        "reasons": [(state, str(labels.get(reason, reason)), n) for state, reason, n in reasons],
        "delivery_errors": delivery_errors,
    }
