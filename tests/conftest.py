import pytest
from django.db import connection

from tests.factories import UserFactory


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)"))


@pytest.fixture
def member(db):
    """An owner of a company that has an integration, as the tenant_create service makes it."""
    from tenants.services import tenant_create

    tenant = tenant_create(owner=UserFactory(), name="Exempel AB")
    return tenant.memberships.select_related("user", "tenant").get()


@pytest.fixture
def member_client(client, member):
    client.force_login(member.user)
    return client


@pytest.fixture
def offer_all(monkeypatch):
    """Give every declared process a body, as later issues will, so that the settings form and the
    engine offer them. Returns a function to swap in a particular body per process key."""
    from dataclasses import replace

    from integrations.processes import registry
    from tests.integrations import bodies

    bodies.calls.clear()
    processes = {
        key: replace(process, body="tests.integrations.bodies.succeed")
        for key, process in registry._processes.items()
    }
    monkeypatch.setattr(registry, "_processes", processes)

    def set_body(key: str, name: str) -> None:
        processes[key] = replace(processes[key], body=f"tests.integrations.bodies.{name}")

    return set_body


@pytest.fixture(autouse=True)
def _english_unless_asked():
    """Each test starts in English: a Swedish request earlier in the same thread (the locale
    middleware activates the language per thread) must not leak into the next test."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture
def staff_client(client):
    """A superuser signed in to the admin."""
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client
