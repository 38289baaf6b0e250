"""Guessing passwords and keys is slowed down: production limits failed logins per client address
and per account (allauth's ACCOUNT_RATE_LIMITS, which the test settings switch off) and failed API
key attempts per client address; behind the production proxy the address counted is the
client's, not the proxy's."""

import pytest
from django.core.cache import cache
from django.test import Client

from api.services import api_key_create
from config.settings import base
from tests.config.test_settings import SAFE_PRODUCTION, load, values
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"  # the factories' password
TOO_MANY = "Too many failed login attempts"


def refused(response) -> bool:
    """allauth answers a rate-limited login with the form and its error, not signed in."""
    return response.status_code == 200 and TOO_MANY in response.content.decode()


def signed_in(response) -> bool:
    return response.status_code == 302


@pytest.fixture
def production_limits(settings):
    """The limits production runs with (base settings; production does not change them)."""
    settings.ACCOUNT_RATE_LIMITS = base.ACCOUNT_RATE_LIMITS
    settings.API_KEY_FAILURES_PER_MINUTE = base.API_KEY_FAILURES_PER_MINUTE
    cache.clear()
    yield settings
    cache.clear()


def log_in(email: str, password: str, *, client_ip: str = "203.0.113.9", via_proxy: bool = False):
    client = Client(REMOTE_ADDR="10.0.0.2" if via_proxy else client_ip)
    headers = {"HTTP_X_FORWARDED_FOR": client_ip} if via_proxy else {}
    return client.post("/accounts/login/", {"login": email, "password": password}, **headers)


def test_production_settings_limit_failed_logins_and_api_keys():
    result = values(
        load(
            "production",
            SAFE_PRODUCTION,
            ["ACCOUNT_RATE_LIMITS", "ALLAUTH_TRUSTED_PROXY_COUNT", "API_KEY_FAILURES_PER_MINUTE"],
        )
    )

    assert result == {
        "ACCOUNT_RATE_LIMITS": "{'login_failed': '10/m/ip,5/5m/key'}",
        "ALLAUTH_TRUSTED_PROXY_COUNT": "1",
        "API_KEY_FAILURES_PER_MINUTE": "30",
    }


def test_five_failed_logins_lock_the_account_even_for_the_right_password(production_limits):
    user = UserFactory()

    failed = [log_in(user.email, "wrong-password") for _ in range(5)]
    locked = log_in(user.email, PASSWORD)

    assert not any(refused(response) or signed_in(response) for response in failed)
    assert refused(locked)


def test_ten_failed_logins_from_one_address_lock_that_address(production_limits):
    users = [UserFactory() for _ in range(11)]

    failed = [log_in(user.email, "wrong-password") for user in users[:10]]
    locked = log_in(users[10].email, PASSWORD)
    elsewhere = log_in(users[10].email, PASSWORD, client_ip="198.51.100.7")

    assert not any(refused(response) for response in failed)
    assert refused(locked)
    assert signed_in(elsewhere)  # (on to e-mail verification)


def test_behind_the_proxy_one_clients_failures_do_not_lock_out_the_others(
    production_limits, settings
):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    users = [UserFactory() for _ in range(11)]

    for user in users[:10]:
        log_in(user.email, "wrong-password", client_ip="203.0.113.9", via_proxy=True)

    assert refused(log_in(users[10].email, PASSWORD, client_ip="203.0.113.9", via_proxy=True))
    assert signed_in(log_in(users[10].email, PASSWORD, client_ip="198.51.100.7", via_proxy=True))


def test_without_counting_the_proxy_everyone_shares_its_address(production_limits, settings):
    """Why production counts one proxy: with 0, the proxy's address is everyone's."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    users = [UserFactory() for _ in range(11)]

    for user in users[:10]:
        log_in(user.email, "wrong-password", client_ip="203.0.113.9", via_proxy=True)

    assert refused(log_in(users[10].email, PASSWORD, client_ip="198.51.100.7", via_proxy=True))


def test_failed_api_keys_are_limited_per_address(production_limits, member):
    _key, raw = api_key_create(tenant=member.tenant, name="verktyg")
    guesser = Client(REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {raw}x")
    other = Client(REMOTE_ADDR="198.51.100.7", HTTP_AUTHORIZATION=f"Bearer {raw}")

    failed = [guesser.get("/api/v1/integration/").status_code for _ in range(30)]
    limited = guesser.get("/api/v1/integration/")

    assert failed == [401] * 30
    assert limited.status_code == 429
    assert limited["Retry-After"] == "60"
    assert other.get("/api/v1/integration/").status_code == 200
