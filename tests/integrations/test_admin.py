"""Support staff's actions on integrations in the admin."""

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.models import Integration, IntegrationEvent, RecordLink, SyncCursor
from tests.factories import IntegrationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def act(client, action, *integrations):
    return client.post(
        reverse("admin:integrations_integration_changelist"),
        {"action": action, "_selected_action": [i.pk for i in integrations]},
        follow=True,
    )


def test_changelist_lists_and_searches_integrations(staff_client):
    IntegrationFactory(tenant__name="Ankdamm AB")
    IntegrationFactory(tenant__name="Björkvik AB")

    page = staff_client.get(reverse("admin:integrations_integration_changelist"), {"q": "Ankdamm"})

    assert "Ankdamm AB" in page.content.decode()
    assert "Björkvik AB" not in page.content.decode()


def test_resync_clears_cursors_and_fingerprints_but_keeps_links(staff_client):
    integration = IntegrationFactory()
    SyncCursor.objects.create(integration=integration, process="articles", value="2026-11-01")
    now = timezone.now()
    RecordLink.objects.create(
        integration=integration,
        object_type="article",
        fortnox_key="1",
        fingerprint="ab",
        synced_at=now,
    )
    RecordLink.objects.create(
        integration=integration,
        object_type="order",
        fortnox_key="7",
        ongoing_key="70",
        fingerprint="cancelled",
        synced_at=now,
    )
    untouched = IntegrationFactory()
    SyncCursor.objects.create(integration=untouched, process="articles", value="2026-11-01")

    response = act(staff_client, "resync", integration)

    assert "Resync requested: 1" in response.content.decode()
    assert not SyncCursor.objects.filter(integration=integration).exists()
    assert SyncCursor.objects.filter(integration=untouched).exists()
    links = dict(RecordLink.objects.values_list("fortnox_key", "fingerprint"))
    assert links == {"1": "", "7": "cancelled"}
    event = IntegrationEvent.objects.get(integration=integration, kind="support")
    assert event.data == {"cursors_cleared": 1, "links_to_rewrite": 1}


def test_pause_and_resume_from_the_admin(staff_client):
    integration = IntegrationFactory()

    act(staff_client, "pause", integration)
    integration.refresh_from_db()
    assert integration.status == Integration.Status.PAUSED

    act(staff_client, "resume", integration)
    integration.refresh_from_db()
    assert integration.status == Integration.Status.ACTIVE
