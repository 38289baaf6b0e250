"""CSRF on every form: every URL pattern (walked from the root URLconf) refuses a POST without a
CSRF token, by the person who could otherwise use it (anonymous for public pages, the company's
owner for its pages, a superuser for the admin). Only machine endpoints authenticated by a header,
never by a cookie, are exempt: the REST API, Ongoing's webhook and the emulated Fortnox/Ongoing
APIs."""

import re

import pytest
from django.test import Client

from tests.factories import UserFactory
from tests.security.test_url_access import FORM, Company
from tests.security.urls import patterns, url_for

pytestmark = pytest.mark.django_db

ALL = patterns()
# Header-authenticated machine endpoints: a browser's cookies open nothing there.
HEADER_AUTHENTICATED = re.compile(
    r"^(api/v1/|hooks/ongoing/"
    r"|sandbox/fortnox/(\^?3/|\^?api/warehouse/|oauth-v1/(token|revoke))"
    r"|sandbox/ongoing/<slug:warehouse>/api/v1/)"
)


def pattern_id(pattern) -> str:
    return pattern.route or "<root>"


@pytest.fixture
def company(db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    return Company()


def exempt(pattern) -> bool:
    return bool(getattr(pattern.callback, "csrf_exempt", False))


def test_only_header_authenticated_endpoints_are_exempt():
    exempted = [pattern.route for pattern in ALL if exempt(pattern)]

    assert exempted
    assert [route for route in exempted if not HEADER_AUTHENTICATED.match(route)] == []


def sandbox_values() -> dict:
    return {
        "warehouse": "demolager",
        "order_id": 1,
        "purchase_order_id": 1,
        "goods_owner_id": 1,
        "key": "1",
    }


@pytest.mark.parametrize("pattern", [p for p in ALL if not exempt(p)], ids=pattern_id)
def test_a_post_without_a_csrf_token_is_refused(company, pattern):
    if pattern.family == "admin":
        who = UserFactory(is_staff=True, is_superuser=True)
    elif pattern.family in ("member", "signed_in"):
        who = company.owner
    else:
        who = None
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    if who is not None:
        client.force_login(who)
    url = url_for(pattern, {**sandbox_values(), **company.ids()})
    before = company.snapshot()

    response = client.post(url, FORM)

    assert response.status_code == 403, f"POST {url}: {response.status_code}"
    assert b"CSRF" in response.content, f"POST {url}: refused, but not for CSRF"
    assert company.snapshot() == before
