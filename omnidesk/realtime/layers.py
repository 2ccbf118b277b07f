"""The channel layer used without Redis (settings.CHANNEL_LAYERS; docs/benchmarks-webchat.md)."""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer


class SingleProcessChannelLayer(InMemoryChannelLayer):
    """channels' in-memory layer, expiring old messages and group memberships at most once a second.

    The parent scans every channel and every group on each send and receive; with 500 widget sockets
    that scan was about 9 % of the server's CPU (and grows with the number of sockets times the rate).
    Expiry is a safety net for consumers that went away, so a second's delay changes nothing.
    """

    CLEAN_INTERVAL_SECONDS = 1.0

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._cleaned_at = 0.0

    @staticmethod
    def _now() -> float:
        return time.monotonic()

    def _clean_expired(self) -> None:
        now = self._now()
        if now - self._cleaned_at < self.CLEAN_INTERVAL_SECONDS:
            return
        self._cleaned_at = now
        super()._clean_expired()
