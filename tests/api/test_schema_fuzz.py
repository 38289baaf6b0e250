"""Schemathesis generates requests from our OpenAPI schema and sends them to the app in-process:
no operation may answer with a server error or with a response the schema does not describe."""

import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings

from api.services import api_key_create
from tests.factories import SyncFailureFactory, SyncRunFactory

pytestmark = pytest.mark.django_db
# CI runs a fixed, derandomized set; FUZZ_EXAMPLES=500 explores further (new examples each run).
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", 25))
DERANDOMIZE = "FUZZ_EXAMPLES" not in os.environ


@pytest.fixture
def keep_the_test_connection():
    """The WSGI handler closes the database connection after each request, which would end the
    test's transaction; Django's own test client detaches that handler the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_no_server_errors_and_answers_match_the_schema(member, keep_the_test_connection):
    integration = member.tenant.integrations.get()
    SyncFailureFactory(integration=integration, run=SyncRunFactory(integration=integration))
    _key, raw = api_key_create(tenant=member.tenant, name="fuzz")
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=DERANDOMIZE,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            case.call_and_validate(headers={"Authorization": f"Bearer {raw}"})

        check()
