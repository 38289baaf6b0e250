"""The credential check behind the connect page: where it looks, what it says, what it stores."""

import pytest
import requests
import responses
from django.core.exceptions import ValidationError

from ongoing.models import OngoingConnection
from ongoing.services import (
    BAD_CREDENTIALS,
    NO_GOODS_OWNER,
    UNKNOWN_SYSTEM,
    UNREACHABLE,
    ongoing_connection_save,
    ongoing_connection_verify,
)

PRODUCTION = "https://api.ongoingsystems.se/demo/api/v1/"
DEMO = "https://wms1.ongoingsystems.se/demo/api/v1/"
SYSTEM = "https://demo.ongoingsystems.se/demo/"
PASSWORD = "right"


@pytest.fixture(autouse=True)
def no_redis(settings, tmp_path):
    settings.REDIS_URL = ""
    settings.ONGOING_LOCK_DIR = tmp_path


@pytest.fixture
def api():
    with responses.RequestsMock() as mock:
        yield mock


def verify(password=PASSWORD):
    return ongoing_connection_verify(system=SYSTEM, username="WSIDemo", password=password)


def refusal(password=PASSWORD) -> ValidationError:
    with pytest.raises(ValidationError) as raised:
        verify(password)
    return raised.value


def test_production_answers_and_is_remembered(api):
    api.get(PRODUCTION + "goodsOwners", json=[{"id": 159, "name": "Demo Handel AB"}])
    verified = verify()
    assert verified.api_base_url == PRODUCTION
    assert (verified.warehouse, verified.goods_owner_id) == ("demo", 159)
    assert verified.goods_owner_name == "Demo Handel AB"
    assert "right" not in repr(verified)
    assert len(api.calls) == 1


def test_a_demo_system_is_found_on_the_demo_host(api):
    api.get(PRODUCTION + "goodsOwners", status=404, json={"Message": "No HTTP resource"})
    api.get(DEMO + "goodsOwners", json=[{"id": 7, "name": "Demo"}])
    assert verify().api_base_url == DEMO


def test_a_system_on_neither_host_is_unknown(api):
    api.get(PRODUCTION + "goodsOwners", status=404)
    api.get(DEMO + "goodsOwners", status=404)
    error = refusal()
    assert error.code == "unknown_system"
    assert error.messages == [str(UNKNOWN_SYSTEM)]


def test_a_wrong_password_is_said_so_without_trying_further(api):
    api.get(PRODUCTION + "goodsOwners", status=401, json={"Message": "Authorization denied."})
    error = refusal("wrong")
    assert error.code == "bad_credentials"
    assert error.messages == [str(BAD_CREDENTIALS)]
    assert len(api.calls) == 1


def test_a_user_without_goods_owner(api):
    api.get(PRODUCTION + "goodsOwners", json=[])
    error = refusal()
    assert error.code == "no_goods_owner"
    assert error.messages == [str(NO_GOODS_OWNER)]


@pytest.mark.parametrize(
    "failure",
    [
        {"body": requests.ConnectionError("refused")},
        {"body": requests.Timeout("slow")},
        {"status": 500, "json": {"Message": "An error has occurred."}},
    ],
)
def test_an_unreachable_system(api, failure):
    api.get(PRODUCTION + "goodsOwners", **failure)
    api.get(DEMO + "goodsOwners", **failure)
    error = refusal()
    assert error.code == "unreachable"
    assert error.messages == [str(UNREACHABLE)]


@pytest.mark.parametrize(
    "system",
    [
        "https://evil.example.com/demo/",
        "https://127.0.0.1/demo/",
        "https://demo.ongoingsystems.se@evil.example.com/demo/",
        "http://localhost/admin/",
        "999999",  # a customer ID nobody configured
    ],
)
def test_systems_we_may_not_contact_are_refused_before_any_request(db, api, system):
    with pytest.raises(ValidationError) as raised:
        ongoing_connection_verify(system=system, username="WSIDemo", password="pw")
    assert raised.value.code == "unknown_system"
    assert len(api.calls) == 0


def test_messages_are_translatable():
    for message in (UNKNOWN_SYSTEM, BAD_CREDENTIALS, NO_GOODS_OWNER, UNREACHABLE):
        assert type(message).__name__ == "__proxy__"  # gettext_lazy


def test_save_stores_the_verified_connection_with_an_encrypted_password(api, member):
    api.get(PRODUCTION + "goodsOwners", json=[{"id": 159, "name": "Demo Handel AB"}])
    connection = ongoing_connection_save(tenant=member.tenant, verified=verify("t0p-secret"))
    connection.refresh_from_db()
    assert connection.password == "t0p-secret"
    assert connection.status == OngoingConnection.Status.VERIFIED
    assert connection.verified_at is not None
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute("SELECT password FROM ongoing_ongoingconnection")
        (stored,) = cursor.fetchone()
    assert "t0p-secret" not in stored


def test_a_redirect_is_never_followed(api):
    api.get(
        PRODUCTION + "goodsOwners", status=302, headers={"Location": "https://evil.example.com/"}
    )
    api.get(DEMO + "goodsOwners", status=301, headers={"Location": "http://169.254.169.254/"})
    error = refusal()
    assert error.code == "unreachable"
    assert [call.request.url for call in api.calls] == [
        PRODUCTION + "goodsOwners",
        DEMO + "goodsOwners",
    ]
