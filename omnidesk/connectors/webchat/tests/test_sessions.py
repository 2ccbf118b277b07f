"""Visitor tokens, identity hashes, language picking and origin lists (pure functions); rate limits:
test_ratelimit.py."""

from __future__ import annotations

import pytest

from omnidesk.connectors.webchat.origins import origin_allowed
from omnidesk.connectors.webchat.sessions import (
    InvalidSession,
    identity_hash,
    new_token,
    open_session,
    read_token,
    verify_user,
    visitor_group,
)
from omnidesk.connectors.webchat.strings import pick_language, strings_for

INBOX = "6f1c1f5e-7d5a-4d8e-9a55-0c1f4c2b8a10"
OTHER = "0b7e8f1a-2222-4c3d-8e9f-000000000000"


def test_a_token_names_its_visitor_and_only_for_its_inbox():
    visitor_id, token = new_token(INBOX)
    assert read_token(INBOX, token) == visitor_id
    with pytest.raises(InvalidSession):
        read_token(OTHER, token)


@pytest.mark.parametrize("token", ["", "garbage", "eyJpIjoiYSJ9:sig"])
def test_a_forged_token_is_refused(token):
    with pytest.raises(InvalidSession):
        read_token(INBOX, token)


def test_a_tampered_token_is_refused():
    _visitor, token = new_token(INBOX)
    import json

    from django.core import signing

    payload, _, rest = token.partition(":")
    data = json.loads(signing.b64_decode(payload.encode()))
    data["v"] = "0" * 32  # claim someone else's visitor id under the old signature
    forged = signing.b64_encode(json.dumps(data, separators=(",", ":")).encode()).decode() + ":" + rest
    assert forged != token
    with pytest.raises(InvalidSession):
        read_token(INBOX, forged)


def test_identity_hash_covers_user_id_and_email():
    good = identity_hash("s3cret", "u-1", "a@example.com")
    user = verify_user("s3cret", user_id="u-1", email="a@example.com", name=" Anna ", user_hash=good.upper())
    assert (user.user_id, user.email, user.name) == ("u-1", "a@example.com", "Anna")
    for user_id, email in (("u-2", "a@example.com"), ("u-1", "b@example.com"), ("u-1", "")):
        with pytest.raises(InvalidSession):
            verify_user("s3cret", user_id=user_id, email=email, name="", user_hash=good)
    with pytest.raises(InvalidSession):
        verify_user("other", user_id="u-1", email="a@example.com", name="", user_hash=good)


def test_identity_verification_needs_a_secret_and_something_to_verify():
    with pytest.raises(InvalidSession):
        verify_user("", user_id="u-1", email="", name="", user_hash=identity_hash("", "u-1", ""))
    with pytest.raises(InvalidSession):
        verify_user("s", user_id="", email="", name="", user_hash=identity_hash("s", "", ""))
    with pytest.raises(InvalidSession):
        verify_user("s", user_id="a\nb", email="", name="", user_hash=identity_hash("s", "a\nb", ""))


def test_a_verified_user_is_one_visitor_on_every_device():
    identity = {"user_id": "u-9", "email": "", "user_hash": identity_hash("k", "u-9", "")}
    phone = open_session(INBOX, None, identity=identity, secret="k")
    laptop = open_session(INBOX, None, identity=identity, secret="k")
    assert phone.token != laptop.token
    assert phone.identity_value == laptop.identity_value == "user:u-9"
    assert phone.group == laptop.group
    anonymous = open_session(INBOX, None, identity=None, secret="")
    assert anonymous.identity_value == anonymous.visitor_id and anonymous.group != phone.group


def test_group_names_are_digests_valid_for_the_channel_layer():
    group = visitor_group(INBOX, "user:someone@example.com with spaces")
    assert group.startswith("visitor.") and len(group) < 100
    assert all(c.isalnum() or c in "._-" for c in group)


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("it-IT", "it"),
        ("pl", "pl"),
        ("zh-CN", "zh-hans"),
        ("zh-TW", "zh-hant"),
        ("zh-Hant-HK", "zh-hant"),
        ("zh-Hans", "zh-hans"),
        ("zh", "zh-hans"),
        ("fr-FR,it;q=0.8", "it"),
        ("xx", "en"),
        ("", "en"),
    ],
)
def test_pick_language(tag, expected):
    assert pick_language(tag) == expected


def test_strings_are_served_for_every_language():
    for code in ("en", "zh-hans", "zh-hant", "it", "pl"):
        strings = strings_for(code)
        assert strings["send"] and "%(name)s" in strings["typing"]


@pytest.mark.parametrize(
    ("origin", "allowed", "ok"),
    [
        ("https://shop.example.com", [], True),  # no list: any site
        ("", [], True),
        ("https://shop.example.com", ["https://shop.example.com/"], True),
        ("https://shop.example.com:443", ["https://shop.example.com"], True),
        ("http://shop.example.com", ["https://shop.example.com"], False),  # the scheme counts when given
        ("http://shop.example.com", ["shop.example.com"], True),
        ("https://a.example.com", ["*.example.com"], True),
        ("https://example.com", [".example.com"], True),
        ("https://evilexample.com", ["*.example.com"], False),
        ("https://example.com.evil.test", ["example.com"], False),
        ("", ["shop.example.com"], False),
        ("null", ["shop.example.com"], False),
    ],
)
def test_origin_allowed(origin, allowed, ok):
    assert origin_allowed(origin, allowed) is ok
