"""Loaded by pytest before Django reads its settings (`-p omnidesk.testing.env` in pyproject):
tests get a data directory of their own, never the developer's."""

import os
import tempfile

if "OMNIDESK_DATA_DIR" not in os.environ or os.environ.get("OMNIDESK_TEST_OWN_DATA_DIR", "1") == "1":
    os.environ["OMNIDESK_DATA_DIR"] = tempfile.mkdtemp(prefix="omnidesk-test-")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789")
