"""Every public method of the Ongoing client fed every answer of the hostile corpus
(tests/hostile.py): each refuses it with an OngoingError whose message names the call and what came
instead, or returns what its annotation promises. No JSONDecodeError, KeyError, TypeError,
UnicodeDecodeError or RecursionError escapes, and a huge body is not read beyond the session's
cap."""

import re
from datetime import UTC, datetime

import pytest
import responses

from integrations.http import MAX_RESPONSE_BYTES, READ_CHUNK_BYTES
from ongoing.client import OngoingClient, OngoingError
from ongoing.services import ongoing_connection_verify
from tests.hostile import CORPUS, Served, call_arguments, clear_message, kept_promise
from tests.hostile import public_methods as public_methods_of

BASE = "https://api.ongoingsystems.se/demo/api/v1/"
SAMPLES = {
    "article": {"articleNumber": "A1", "articleName": "Skrivbord"},
    "order": {"orderNumber": "1042", "orderLines": []},
    "order_id": 17,
    "code": "B2B",
    "name": "Business to business",
    "purchase_order": {"purchaseOrderNumber": "77"},
    "purchase_order_id": 77,
    "inventory_id": 5,
    "article_system_id": 9,
}
# Optional arguments worth giving, so the paths that use them are fed the corpus as well.
OPTIONAL = {
    "articles_list": {"updated_from": datetime(2026, 11, 1, tzinfo=UTC)},
    "orders_list": {"only_lines_to_report": True, "id_from": 3},
}


def public_methods() -> dict:
    return public_methods_of(OngoingClient)


@pytest.fixture
def wms(settings, tmp_path):
    settings.ONGOING_LOCK_DIR = tmp_path
    settings.REDIS_URL = ""
    return OngoingClient(
        base_url=BASE, username="WSIDemo", password="s3cret-pw", goods_owner_id=159, page_size=2
    )


def serve(mock, name: str) -> Served:
    served = Served(name)
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        mock.add_callback(method, re.compile(re.escape(BASE) + r".*"), callback=served)
    return served


def test_every_public_method_is_covered():
    methods = public_methods()
    assert len(methods) >= 19
    for method in methods.values():
        call_arguments(method, SAMPLES)


@pytest.mark.parametrize("answer", list(CORPUS))
@pytest.mark.parametrize("name", list(public_methods()))
def test_a_hostile_answer_is_refused_with_a_typed_error_or_kept_to_its_promise(wms, name, answer):
    method = public_methods()[name]
    args, kwargs = call_arguments(method, SAMPLES)
    kwargs.update(OPTIONAL.get(name, {}))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        served = serve(mock, answer)
        try:
            result = getattr(wms, name)(*args, **kwargs)
            if hasattr(result, "__next__"):
                # A page of the corpus repeats forever: two pages show it is read and refused.
                result = [page for _, page in zip(range(2), result, strict=False)]
        except OngoingError as error:
            problem = clear_message(error, service="Ongoing")
            assert problem is None, f"{name} on {answer}: the message {problem}"
        else:
            assert not CORPUS[answer].unreadable, f"{name} accepted {answer}: {result!r:.200}"
            assert kept_promise(method, result), f"{name} on {answer} returned {result!r:.200}"
    assert served.calls >= 1
    if served.raw is not None:
        assert served.raw.served <= MAX_RESPONSE_BYTES + 2 * READ_CHUNK_BYTES


@pytest.mark.parametrize("answer", list(CORPUS))
def test_the_credential_check_turns_a_hostile_answer_into_a_message_for_the_customer(
    settings, tmp_path, answer
):
    """ongoing_connection_verify picks the goods owner from the answer: a hostile one ends as
    the form's ValidationError, never a server error."""
    from django.core.exceptions import ValidationError

    settings.ONGOING_LOCK_DIR = tmp_path
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        served = Served(answer)
        mock.add_callback("GET", re.compile(r"https://[a-z0-9]+\.ongoingsystems\.se/.*"), served)
        try:
            verified = ongoing_connection_verify(
                system="https://demo.ongoingsystems.se/demo/", username="WSI", password="pw"
            )
        except ValidationError as error:
            assert error.code in {"unreachable", "no_goods_owner", "bad_credentials"}
        else:
            assert isinstance(verified.goods_owner_id, int)


def test_messages_say_what_came_instead(wms):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        serve(mock, "html_502_bad_gateway")
        with pytest.raises(OngoingError) as error:
            wms.order_get(order_id=17)
    assert str(error.value) == "Ongoing answered GET orders/17 with 502: Bad Gateway"

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        serve(mock, "invalid_utf8")
        with pytest.raises(OngoingError) as error:
            wms.order_get(order_id=17)
    assert str(error.value) == (
        "Ongoing answered GET orders/17 with text that is not valid UTF-8 (at byte 52)."
    )

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        serve(mock, "listed_items_without_ids")
        with pytest.raises(OngoingError) as error:
            list(wms.orders_list())
    assert str(error.value) == (
        "Ongoing's answer to GET orders has item 1 with an id that is not a positive whole number."
    )
