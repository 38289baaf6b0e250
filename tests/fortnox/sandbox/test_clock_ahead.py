"""The sandbox judges tokens by its own clock, even when a test or benchmark runs it ahead of the
machine's."""

import time

import pytest

from fortnox.sandbox import auth
from fortnox.sandbox import clock as sandbox_clock
from fortnox.sandbox.models import SandboxApp, SandboxUser

pytestmark = pytest.mark.django_db


def test_a_token_issued_on_a_clock_two_hours_ahead_is_valid_until_it_expires(sandbox, monkeypatch):
    ahead = time.time() + 2 * 3600
    monkeypatch.setattr(sandbox_clock, "now", lambda: ahead)
    token = auth.access_token_issue(
        app=SandboxApp.objects.get(client_id="sandbox-client"),
        user=SandboxUser.objects.get(email=sandbox.email),
        scopes=["article"],
    )

    assert auth.access_token_claims(token) is not None
    monkeypatch.setattr(sandbox_clock, "now", lambda: ahead + 3601)
    assert auth.access_token_claims(token) is None
