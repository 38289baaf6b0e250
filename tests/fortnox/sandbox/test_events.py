"""The emulated event stream: every change announces itself in its own transaction, and a session
speaks the protocol — add tenants with a valid token and the app's secret, topics with offsets to
replay from, subscribe, and events in order."""

import json

import pytest

from fortnox.sandbox import store
from fortnox.sandbox.events import Session, offset_decode, offset_encode
from fortnox.sandbox.models import SandboxEvent, SandboxRecord
from tests.fortnox.conftest import consent_tokens, second_company

pytestmark = pytest.mark.django_db


def command(session: Session, **frame) -> dict:
    return session.command(json.dumps(frame))


def subscribed(sandbox, *, offsets=None, topics=("orders",)) -> Session:
    session = Session()
    token = consent_tokens(app=sandbox.app, user=sandbox.user).access_token
    answer = command(
        session, command="add-tenants-v1", clientSecret="sandbox-secret", accessTokens=[token]
    )
    assert answer == {
        "response": "add-tenants-v1",
        "result": "ok",
        "tenantIds": {"0": sandbox.company.tenant_id},
        "invalidTokens": [],
    }
    command(
        session,
        command="add-topics-v1",
        topics=[{"topic": topic, "offsets": offsets or {}} for topic in topics],
    )
    assert command(session, command="subscribe-v1")["result"] == "ok"
    return session


def open_orders(sandbox) -> list[str]:
    numbers = [
        record.key
        for record in SandboxRecord.objects.filter(company=sandbox.company, kind="order")
        if store.open_order(record.data)
    ]
    return sorted(numbers, key=int)[:3]


def test_changes_announce_themselves_with_the_kind_of_change(sandbox):
    seeded = SandboxEvent.objects.order_by("id").last().pk
    order = store.order_write(sandbox.company, {"CustomerNumber": "1"})
    store.order_write(sandbox.company, {"Remarks": "Ändrad"}, key=order["DocumentNumber"])
    store.order_cancel(sandbox.company, order["DocumentNumber"])
    store.supplier_write(sandbox.company, {"Name": "Ny leverantör AB"})

    events = list(
        SandboxEvent.objects.filter(id__gt=seeded)
        .order_by("id")
        .values_list("topic", "type", "entity_id")
    )

    number = order["DocumentNumber"]
    assert events == [
        ("orders", "order-created-v1", number),
        ("orders", "order-updated-v1", number),
        ("orders", "order-cancelled-v1", number),
        ("suppliers", "supplier-created-v1", events[3][2]),
    ]


def test_a_subscriber_gets_new_events_in_order_and_each_once(sandbox):
    first, second, _third = open_orders(sandbox)
    session = subscribed(sandbox)
    before = session.due()
    store.order_write(sandbox.company, {"Remarks": "Första"}, key=first)
    store.order_write(sandbox.company, {"Remarks": "Andra"}, key=second)
    store.article_write(sandbox.company, {"Description": "Inte prenumererad"}, key="1000")

    events = session.due()

    assert before == []
    assert [(e["entityId"], e["type"], e["tenantId"]) for e in events] == [
        (first, "order-updated-v1", sandbox.company.tenant_id),
        (second, "order-updated-v1", sandbox.company.tenant_id),
    ]
    assert session.due() == []


def test_a_subscriber_replays_from_an_offset(sandbox):
    numbers = open_orders(sandbox)
    store.order_write(sandbox.company, {"Remarks": "A"}, key=numbers[0])
    first = SandboxEvent.objects.latest("id")
    store.order_write(sandbox.company, {"Remarks": "B"}, key=numbers[1])
    store.order_write(sandbox.company, {"Remarks": "C"}, key=numbers[2])

    session = subscribed(sandbox, offsets={str(sandbox.company.tenant_id): offset_encode(first.pk)})

    assert [event["entityId"] for event in session.due()] == numbers[1:]


def test_a_wrong_client_secret_is_refused(sandbox):
    token = consent_tokens(app=sandbox.app, user=sandbox.user).access_token

    answer = command(
        Session(), command="add-tenants-v1", clientSecret="guess", accessTokens=[token]
    )

    assert answer["result"] == "error"
    assert answer["message"] == "Invalid client secret."


def test_invalid_tokens_are_named_and_their_tenants_not_added(sandbox):
    token = consent_tokens(app=sandbox.app, user=sandbox.user).access_token
    session = Session()

    answer = command(
        session,
        command="add-tenants-v1",
        clientSecret="sandbox-secret",
        accessTokens=["not-a-jwt", token],
    )

    assert answer["tenantIds"] == {"1": sandbox.company.tenant_id}
    assert answer["invalidTokens"] == [0]


def test_tenants_see_only_their_own_events_and_can_be_removed(sandbox):
    other_user = second_company()
    session = subscribed(sandbox)
    token = consent_tokens(app=sandbox.app, user=other_user).access_token
    command(session, command="add-tenants-v1", clientSecret="sandbox-secret", accessTokens=[token])
    number = open_orders(sandbox)[0]
    store.order_write(sandbox.company, {"Remarks": "Vår"}, key=number)

    assert [event["tenantId"] for event in session.due()] == [sandbox.company.tenant_id]

    command(session, command="remove-tenants-v1", tenantIds=[sandbox.company.tenant_id])
    store.order_write(sandbox.company, {"Remarks": "Inte längre"}, key=number)
    assert session.due() == []


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("not json", "The frame is not JSON."),
        (json.dumps({"command": "shout"}), "Unknown command 'shout'."),
        (
            json.dumps({"command": "add-topics-v1", "topics": [{"topic": "x"}]}),
            "Unknown topic 'x'.",
        ),
        (
            json.dumps({"command": "add-topics-v1", "topics": [{"topic": "orders", "offsets": 5}]}),
            "offsets must map tenant ids to offsets.",
        ),
    ],
)
def test_malformed_commands_are_answered_with_an_error(sandbox, frame, message):
    answer = Session().command(frame)

    assert answer["result"] == "error"
    assert answer["message"] == message


def test_offsets_are_opaque_strings_that_decode_back():
    assert offset_decode(offset_encode(123456)) == 123456
    assert offset_decode("123456") is None
    assert offset_decode("x!") is None
