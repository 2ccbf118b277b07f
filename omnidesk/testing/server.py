"""A real `omnidesk serve` in a subprocess, for browser, crash and benchmark runs.

Each server gets its own data directory and, when DATABASE_URL names PostgreSQL, its own fresh database,
so it never touches the pytest-django test database or another run's data.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database_url(base_url: str | None) -> str | None:
    """A new empty PostgreSQL database next to `base_url` (None for SQLite in the data dir)."""
    if not base_url or not base_url.startswith(("postgres://", "postgresql://")):
        return None
    import psycopg

    name = f"e2e_{uuid.uuid4().hex[:12]}"
    prefix, _, _ = base_url.rpartition("/")
    # The maintenance database always exists; the one DATABASE_URL names may not (pytest-django
    # only creates test_<name>).
    with psycopg.connect(f"{prefix}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{prefix}/{name}"


def drop_database(url: str | None) -> None:
    if not url:
        return
    import psycopg

    prefix, _, name = url.rpartition("/")
    with psycopg.connect(f"{prefix}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class OmnideskServer:
    """Start, kill and restart `omnidesk serve`; run other `omnidesk` commands against the same data."""

    def __init__(
        self,
        data_dir: Path,
        *,
        database_url: str | None = None,
        redis_url: str | None = None,
        extra_env: dict[str, str] | None = None,
        workers: int = 2,
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.env = {
            k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "OMNIDESK_DATA_DIR")
        }
        self.env.update(
            {
                "OMNIDESK_DATA_DIR": str(data_dir),
                "SECRET_KEY": "e2e-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
                "PUBLIC_URL": self.url,
                "OMNIDESK_LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if database_url:
            self.env["DATABASE_URL"] = database_url
        if redis_url:
            self.env["REDIS_URL"] = redis_url
            # A prefix of its own: rate-limit counts and channel groups never carry over between servers.
            self.env["OMNIDESK_REDIS_PREFIX"] = f"omnidesk-e2e-{self.port}-{os.getpid()}"
        self.env.update(extra_env or {})
        self.proc: subprocess.Popen | None = None
        self.log_path = data_dir / "server.log"

    def manage(self, *args: str, input: str | None = None, timeout: float = 120) -> str:
        """Run `omnidesk <args>` against this server's data; returns stdout."""
        result = subprocess.run(
            [sys.executable, "-m", "omnidesk", *args],
            env=self.env,
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"omnidesk {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def spawn(self, *args: str) -> subprocess.Popen:
        """Start `omnidesk <args>` (a scale-out process: worker, listen) in a session of its own, logging to
        this server's log; the caller kills or stops it."""
        log = open(self.log_path, "ab")  # noqa: SIM115  (kept open for the child's lifetime)
        return subprocess.Popen(
            [sys.executable, "-m", "omnidesk", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self, timeout: float = 60) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115  (kept open for the child's lifetime)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "omnidesk",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"omnidesk serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"omnidesk serve did not answer within {timeout}s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: the crash case, no graceful shutdown."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""
