"""Fixtures for tests that run the real server and a real browser."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from omnidesk.testing.server import OmnideskServer, drop_database, fresh_database_url

IN_CI = os.environ.get("CI") == "true"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def require_chromium() -> None:
    """Skip without Chromium on a developer machine; under CI a missing browser is a failure."""
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail("Chromium is missing under CI=true (apt-get install -y chromium)")
        pytest.skip("Chromium not installed (apt-get install -y chromium)")


@pytest.fixture
def server_factory(tmp_path_factory) -> Iterator:
    """Make OmnideskServer instances with fresh data (and a fresh PostgreSQL database under DATABASE_URL)."""
    made: list[tuple[OmnideskServer, str | None]] = []

    def make(**kwargs) -> OmnideskServer:
        db_url = fresh_database_url(os.environ.get("DATABASE_URL"))
        server = OmnideskServer(
            tmp_path_factory.mktemp("server"),
            database_url=db_url,
            redis_url=os.environ.get("REDIS_URL"),
            **kwargs,
        )
        made.append((server, db_url))
        return server

    yield make
    for server, db_url in made:
        server.stop()
        drop_database(db_url)


@pytest.fixture
def browser():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
