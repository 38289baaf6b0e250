from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from integrations.models import Heartbeat
from integrations.services.scheduler import TICK

pytestmark = pytest.mark.django_db


def test_healthy_when_database_broker_and_tick_answer(client):
    Heartbeat.objects.create(name=TICK, beat_at=timezone.now(), details={"claimed": 4})

    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True}
    assert body["broker"]["ok"] is True
    assert body["tick"]["ok"] is True
    assert body["tick"]["claimed"] == 4


def test_stale_tick_is_degraded_but_serving(client):
    Heartbeat.objects.create(name=TICK, beat_at=timezone.now() - timedelta(minutes=10))

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["tick"]["age_seconds"] >= 600


def test_no_tick_yet_is_degraded(client):
    assert client.get("/healthz").json()["tick"] == {"ok": False, "last_at": None}


def test_unreachable_broker_is_down(client):
    with mock.patch(
        "integrations.health.app.connection_for_write", side_effect=ConnectionRefusedError
    ):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["broker"] == {"ok": False, "error": "ConnectionRefusedError"}
    assert response.json()["status"] == "down"
