"""The REST API against its own OpenAPI document (schemathesis): whatever a client sends, no 5xx, and only
the statuses, content types and bodies the document lists. Bounded: a fixed number of examples per operation.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from omnidesk.accounts.tokens import create_token
from omnidesk.testing.factories import inbound, make_agent, make_inbox

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())

EXAMPLES = 30  # per operation: enough to find a missing status in a few minutes of CI


@pytest.fixture
def keep_connection():
    """In process, a request's end must not close the test's database connection (as Django's test client
    arranges for its own requests)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(db, settings, keep_connection):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    admin = make_agent("fuzz-admin", role="admin")
    inbox = make_inbox("api", "Fuzz API")
    inbound(inbox, "a conversation for the fuzzer to find")  # so ids and lists are not all empty
    return create_token(admin.user, "fuzz")[1]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
@pytest.mark.slow
def test_every_operation_answers_as_documented(case, token):
    # No 5xx; only listed statuses, content types and bodies. (Refusing a value the schema does not forbid,
    # a NUL character say, is a documented 400/422, not a failure.)
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
