"""Replies through the api connector share one HTTP client per process (omnidesk/inboxes/http.py)."""

from __future__ import annotations

from unittest import mock

import httpx
import respx

from omnidesk.inboxes import http


def test_one_client_per_process_and_a_new_one_after_a_fork():
    first = http.client()
    assert http.client() is first
    with mock.patch("omnidesk.inboxes.http.os.getpid", return_value=-1):
        child = http.client()
    assert child is not first and isinstance(child, httpx.Client)


def test_the_kept_client_is_what_sends_and_it_sends_every_call():
    with respx.mock:
        route = respx.post("http://hooks.test/kept").mock(return_value=httpx.Response(200, json={}))
        for n in range(3):
            http.client().post("http://hooks.test/kept", content=f"{n}".encode(), timeout=5)
    assert [call.request.content for call in route.calls] == [b"0", b"1", b"2"]
