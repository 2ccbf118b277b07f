"""One HTTP client per process for calls to providers and integrations (connectors' sends, rules' webhooks).

`httpx.post` builds a client for every call, and with it a TLS context that loads the system's CA bundle:
about 30 ms of CPU, more than the rest of a delivery (bench/automation, docs/benchmarks.md). A kept client
loads it once and keeps connections alive between sends to the same host.
"""

from __future__ import annotations

import os
import threading

import httpx

_lock = threading.Lock()
_client: tuple[int, httpx.Client] | None = None


def client() -> httpx.Client:
    """The process's client (a forked child makes its own: sockets are not shared across processes)."""
    global _client
    held = _client
    if held is not None and held[0] == os.getpid():
        return held[1]
    with _lock:
        if _client is None or _client[0] != os.getpid():
            _client = (os.getpid(), httpx.Client())
        return _client[1]
