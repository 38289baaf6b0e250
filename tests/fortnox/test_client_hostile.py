"""Every public method of the Fortnox client (and the OAuth token calls) fed every answer of the
hostile corpus (tests/hostile.py): each refuses it with a FortnoxError whose message names the
call and what came instead, or returns what its annotation promises. No JSONDecodeError,
KeyError, TypeError, UnicodeDecodeError or RecursionError escapes, and a huge body is not read
beyond the session's cap."""

import re

import pytest
import responses

from fortnox.client import FortnoxClient
from fortnox.errors import FortnoxError
from fortnox.oauth import oauth_code_exchange, oauth_token_refresh, oauth_token_revoke
from integrations.http import MAX_RESPONSE_BYTES, READ_CHUNK_BYTES
from tests.hostile import CORPUS, Served, call_arguments, clear_message, kept_promise
from tests.hostile import public_methods as public_methods_of

API = "https://api.fortnox.test"
SAMPLES = {
    "method": "GET",
    "path": "3/articles/A1",
    "article_number": "A1",
    "fields": {"Description": "Skrivbord"},
    "quantity": 3,
    "supplier_number": "7",
    "customer_number": "12",
    "document_number": 1042,
    "item_ids": ["A1", "A2"],
    "direction": "inbound",
    "document_type": "OngoingInboundReturn",
    "document_id": "123",
    "document": {"id": "123", "rows": []},
    "incoming_goods_id": 5,
    "booking_date": "2026-11-23",
    "purchase_order_id": 77,
}


class Tokens:
    throttle_key = "42"

    def access_token(self):
        return "token-1"

    def replace_rejected(self, rejected):
        return "token-2"


class NoThrottle:
    def acquire(self, key):
        pass


def public_methods() -> dict:
    return public_methods_of(FortnoxClient)


def invoke(client, name):
    method = public_methods()[name]
    args, kwargs = call_arguments(method, SAMPLES)
    result = getattr(client, name)(*args, **kwargs)
    if hasattr(result, "__next__"):
        result = list(result)
    return method, result


@pytest.fixture
def client(settings):
    settings.FORTNOX_API_BASE_URL = API
    settings.FORTNOX_RATE_LIMIT_RETRIES = 1
    return FortnoxClient(tokens=Tokens(), throttle=NoThrottle(), sleep=lambda seconds: None)


def serve(mock, name: str, base: str = API) -> Served:
    served = Served(name)
    for method in ("GET", "POST", "PUT", "DELETE"):
        mock.add_callback(method, re.compile(re.escape(base) + r"/.*"), callback=served)
    return served


def test_every_public_method_is_covered():
    """The corpus reaches a method by introspection; this names them so that a method that cannot
    be called with the samples fails here, by name."""
    methods = public_methods()
    assert len(methods) >= 27
    for method in methods.values():
        call_arguments(method, SAMPLES)


@pytest.mark.parametrize("answer", list(CORPUS))
@pytest.mark.parametrize("name", list(public_methods()))
def test_a_hostile_answer_is_refused_with_a_typed_error_or_kept_to_its_promise(
    client, name, answer
):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        served = serve(mock, answer)
        try:
            method, result = invoke(client, name)
        except FortnoxError as error:
            problem = clear_message(error, service="Fortnox")
            assert problem is None, f"{name} on {answer}: the message {problem}"
        else:
            assert not CORPUS[answer].unreadable, f"{name} accepted {answer}: {result!r:.200}"
            assert kept_promise(method, result), f"{name} on {answer} returned {result!r:.200}"
    assert served.calls >= 1
    if served.raw is not None:
        assert served.raw.served <= MAX_RESPONSE_BYTES + 2 * READ_CHUNK_BYTES


@pytest.mark.parametrize("answer", list(CORPUS))
@pytest.mark.parametrize(
    "call",
    [
        lambda: oauth_code_exchange(code="code-1"),
        lambda: oauth_token_refresh(refresh_token="refresh-1"),
        lambda: oauth_token_revoke(refresh_token="refresh-1"),
    ],
    ids=["code_exchange", "token_refresh", "token_revoke"],
)
def test_the_token_calls_refuse_hostile_answers_with_typed_errors(settings, call, answer):
    settings.FORTNOX_AUTH_BASE_URL = API
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        served = serve(mock, answer)
        try:
            result = call()
        except FortnoxError as error:
            problem = clear_message(error, service="Fortnox")
            assert problem is None, f"{answer}: the message {problem}"
        else:
            # Only revoking may succeed: any 2xx (or 400) means the token is unusable.
            assert result is None, f"{answer} gave {result!r}"
    if served.raw is not None:
        assert served.raw.served <= MAX_RESPONSE_BYTES + 2 * READ_CHUNK_BYTES


def test_messages_say_what_came_instead(client):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        serve(mock, "html_maintenance_page")
        with pytest.raises(FortnoxError) as error:
            client.article_get("A1")
    assert str(error.value) == (
        "Fortnox 200: the answer to GET 3/articles/A1 is an HTML page (“Underhåll pågår”) "
        "instead of JSON."
    )

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        serve(mock, "huge_body")
        with pytest.raises(FortnoxError) as error:
            client.order_get(1042)
    assert str(error.value) == (
        "Fortnox: the answer to GET 3/orders/1042 was not read: it is larger than 8 MB."
    )

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        serve(mock, "items_without_keys")
        with pytest.raises(FortnoxError) as error:
            list(client.orders_list())
    assert str(error.value) == (
        "Fortnox: the answer to GET 3/orders (page 1) has item 1 without a DocumentNumber."
    )
