"""The webhook route's connector cache (ingest/webhooks.py): a saved inbox applies at once in this
process, a change made elsewhere after at most CONNECTOR_CACHE_SECONDS, and unknown inboxes are never
remembered."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings

from omnidesk.inboxes.models import Inbox
from omnidesk.ingest import webhooks as views
from omnidesk.testing.factories import make_inbox

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    views._connectors.clear()
    yield
    views._connectors.clear()


@pytest.fixture
def clock(monkeypatch):
    """views' monotonic clock, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(views.time, "monotonic", lambda: now[0])
    return now


def test_the_connector_is_read_once_within_the_window(clock, django_assert_max_num_queries):
    inbox = make_inbox("api")
    with django_assert_max_num_queries(1):
        first = views._connector("api", inbox.uuid)
        clock[0] += settings.OMNIDESK_CONNECTOR_CACHE_SECONDS / 2
        assert views._connector("api", inbox.uuid) is first
    assert first.inbox.pk == inbox.pk


def test_saving_the_inbox_here_applies_to_the_next_webhook(clock):
    inbox = make_inbox("api")
    assert views._connector("api", inbox.uuid) is not None
    inbox.enabled = False
    inbox.save()
    assert views._connector("api", inbox.uuid) is None


def test_rotated_secrets_apply_at_once_when_saved_here(clock):
    inbox = make_inbox("api", secrets={"signing_secret": "old-secret-0123456789"})
    assert views._connector("api", inbox.uuid).inbox.secrets["signing_secret"] == "old-secret-0123456789"
    inbox.set_secrets({"signing_secret": "new-secret-0123456789"})
    inbox.save()
    assert views._connector("api", inbox.uuid).inbox.secrets["signing_secret"] == "new-secret-0123456789"


def test_a_change_made_by_another_process_applies_after_the_window(clock):
    inbox = make_inbox("api")
    assert views._connector("api", inbox.uuid) is not None
    Inbox.objects.filter(pk=inbox.pk).update(enabled=False)  # no signal here: as if another process
    assert views._connector("api", inbox.uuid) is not None
    clock[0] += settings.OMNIDESK_CONNECTOR_CACHE_SECONDS + 0.01
    assert views._connector("api", inbox.uuid) is None


def test_deleting_the_inbox_applies_at_once(clock):
    inbox = make_inbox("api")
    key = inbox.uuid
    assert views._connector("api", key) is not None
    inbox.delete()
    assert views._connector("api", key) is None


def test_unknown_inboxes_and_other_kinds_are_not_remembered(clock):
    inbox = make_inbox("api")
    for _ in range(5):
        assert views._connector("api", uuid.uuid4()) is None
    assert views._connector("webchat", inbox.uuid) is None  # right uuid, wrong kind
    assert views._connector("no-such-kind", inbox.uuid) is None
    assert views._connectors == {}


def test_the_cache_never_grows_past_its_size(clock, monkeypatch):
    monkeypatch.setattr(views, "CONNECTOR_CACHE_SIZE", 3)
    inboxes = [make_inbox("api") for _ in range(5)]
    for inbox in inboxes:
        assert views._connector("api", inbox.uuid) is not None
        assert len(views._connectors) <= 3
