"""A corpus of broken and hostile API answers, by name: what a proxy, an outage page, a bug on the
other side or a hostile server could hand our clients instead of the answer they expect.

Each Answer is (status, headers, body). `unreadable` answers are not a JSON document at all; every
client method must refuse those with our own typed error. The others are JSON of the wrong shape
or with odd values; a method either refuses them with a typed error or returns what it promises.
`huge_body` is produced lazily and counts what was read of it, so a test can prove the client
stopped reading long before the end."""

import gzip
import io
from dataclasses import dataclass, field

# Every envelope, collection and id key the two clients read, so that one body offers each method
# the key it looks for, holding the wrong thing.
FORTNOX_KEYS = [
    "CompanyInformation", "Article", "Articles", "Supplier", "Suppliers", "Customer", "Customers",
    "Order", "Orders", "Invoice", "MetaInformation", "id", "tenantId", "activated",
]  # fmt: skip
ONGOING_KEYS = [
    "articleSystemId", "orderId", "orderTypeId", "purchaseOrderId", "inventoryId",
    "orderStatuses", "orderTypes", "orderInfo", "purchaseOrderInfo", "message", "success",
]  # fmt: skip
KEYS = FORTNOX_KEYS + ONGOING_KEYS
JSON = {"Content-Type": "application/json"}
HTML = {"Content-Type": "text/html; charset=utf-8"}
HUGE_BYTES = 64 * 1024 * 1024


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict = field(default_factory=lambda: dict(JSON))
    # Not a JSON document: every method must refuse it.
    unreadable: bool = False


class EndlessJSON(io.RawIOBase):
    """A JSON array of `total` bytes, made as it is read; `served` says how much was read."""

    def __init__(self, total: int):
        self.total = total
        self.served = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        left = self.total - self.served
        if left <= 0:
            return 0
        size = min(len(buffer), left)
        chunk = (b"[" if self.served == 0 else b"") + b'"x",' * (size // 4 + 1)
        buffer[:size] = chunk[:size]
        self.served += size
        return size


def huge_body() -> tuple[io.BufferedReader, EndlessJSON]:
    raw = EndlessJSON(HUGE_BYTES)
    return io.BufferedReader(raw, buffer_size=64 * 1024), raw


def _gzip_bomb() -> bytes:
    # 64 MB of spaces compress to about 64 kB: small on the wire, huge once decompressed.
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as archive:
        archive.write(b"[" + b" " * (HUGE_BYTES - 2) + b"]")
    return buffer.getvalue()


def _everywhere(value) -> bytes:
    import json

    return json.dumps(dict.fromkeys(KEYS, value)).encode()


CORPUS: dict[str, Answer] = {
    # --- not JSON at all --------------------------------------------------------------------
    "html_maintenance_page": Answer(
        200,
        "<!DOCTYPE html><html><head><title>Underhåll pågår</title></head>"
        "<body><h1>Vi är strax tillbaka</h1></body></html>".encode(),
        HTML,
        unreadable=True,
    ),
    "html_500_error_page": Answer(
        500,
        b"<html><head><title>500 Internal Server Error</title></head><body>"
        + b"<pre>Traceback (most recent call last): ...</pre>" * 200
        + b"</body></html>",
        HTML,
        unreadable=True,
    ),
    "html_502_bad_gateway": Answer(
        502,
        b"<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body>"
        b"</html>",
        HTML,
        unreadable=True,
    ),
    "html_403_firewall": Answer(
        403, b"<html><body>Request blocked by firewall</body></html>", HTML, unreadable=True
    ),
    "truncated_json": Answer(
        200,
        b'{"Article": {"ArticleNumber": "A1", "Description": "Skrivbord i ek',
        unreadable=True,
    ),
    "invalid_utf8": Answer(
        200, b'{"Article": {"ArticleNumber": "A1", "Description": "\xff\xfe\xfa"}}', unreadable=True
    ),
    "latin1_not_utf8": Answer(
        200,
        '{"Article": {"ArticleNumber": "A1", "Description": "Smörgåsbord"}}'.encode("latin-1"),
        unreadable=True,
    ),
    "utf16_json": Answer(200, '{"Articles": []}'.encode("utf-16"), unreadable=True),
    "deeply_nested": Answer(200, b"[" * 100_000 + b"]" * 100_000, unreadable=True),
    "nan_and_infinity": Answer(
        200,
        b'{"Article": {"ArticleNumber": "A1", "Weight": NaN, "Width": Infinity}}',
        unreadable=True,
    ),
    "whitespace_only": Answer(200, b"  \r\n\t ", unreadable=True),
    "plain_text_ok": Answer(200, b"OK", {"Content-Type": "text/plain"}, unreadable=True),
    "xml_instead_of_json": Answer(
        200,
        b'<?xml version="1.0"?><Article><ArticleNumber>A1</ArticleNumber></Article>',
        {"Content-Type": "application/xml"},
        unreadable=True,
    ),
    "gzip_bomb": Answer(200, _gzip_bomb(), {**JSON, "Content-Encoding": "gzip"}, unreadable=True),
    # The body is made per request by huge_body(); this entry only marks its place.
    "huge_body": Answer(200, b"", unreadable=True),
    # --- JSON of the wrong shape --------------------------------------------------------------
    "empty_body": Answer(200, b""),
    "json_null": Answer(200, b"null"),
    "json_number": Answer(200, b"42"),
    "json_string": Answer(200, b'"OK"'),
    "json_true": Answer(200, b"true"),
    "json_empty_object": Answer(200, b"{}"),
    "json_empty_list": Answer(200, b"[]"),
    "json_list_of_scalars": Answer(200, b'[1, "two", null, true]'),
    "error_400_with_control_characters": Answer(
        400,
        b'{"ErrorInformation": {"error": 1, "message": "Ogiltigt v\\u00e4rde\\u0000 i f\\u00e4ltet '
        b'\\u001b[31m", "code": 2000588}, "message": "Fel\\u0000"}',
    ),
    "error_information_with_200": Answer(
        200,
        b'{"ErrorInformation": {"error": 1, "message": "Kan inte hitta artikeln.", '
        b'"code": 2000428}, "Message": "Fel uppstod"}',
    ),
    "wrong_types_everywhere": Answer(200, _everywhere("fel")),
    "lists_where_objects_belong": Answer(200, _everywhere([{"a": 1}])),
    "numbers_as_strings_everywhere": Answer(200, _everywhere("17")),
    "nulls_everywhere": Answer(200, _everywhere(None)),
    "negative_ids_everywhere": Answer(200, _everywhere(-1)),
    "items_without_keys": Answer(
        200,
        b'{"Articles": [{"Description": "utan nummer"}], "Suppliers": [{}], "Customers": [{}],'
        b' "Orders": [{"Total": 1}], "MetaInformation": {"@TotalPages": 1}}',
    ),
    "listed_items_without_ids": Answer(
        200, b'[{"orderInfo": {}, "purchaseOrderInfo": null, "articleSystemId": "x", "id": null}]'
    ),
    "keys_too_long_or_with_control_characters": Answer(
        200,
        (
            '{"Articles": [{"ArticleNumber": "' + "A" * 5000 + '"}], '
            '"Orders": [{"DocumentNumber": "10\\u000042"}], '
            '"Suppliers": [{"SupplierNumber": "\\n"}], "Customers": [{"CustomerNumber": "  "}], '
            '"MetaInformation": {"@TotalPages": 1}}'
        ).encode(),
    ),
    "total_pages_nonsense": Answer(
        200,
        b'{"Articles": [], "Suppliers": [], "Customers": [], "Orders": [],'
        b' "MetaInformation": {"@TotalPages": "many"}}',
    ),
    "swedish_and_odd_text": Answer(
        200,
        (
            '{"Article": {"ArticleNumber": "Åäö-1", "Description": "Smörgåsbord \\u0000 🙂 '
            '\\u202e Ärtsoppa", "Weight": "1 200,5"}, '
            '"Order": {"DocumentNumber": "1042", "CustomerName": "Örjan Åström"}, '
            '"CompanyInformation": {"CompanyName": "Bröderna Öst AB", "DatabaseNumber": "1"}}'
        ).encode(),
    ),
}


# --- Feeding the corpus to a client ---------------------------------------------------------------


class Served:
    """A `responses` callback that answers every request with one corpus entry; for huge_body,
    the lazily made body whose `raw.served` counts what was read."""

    def __init__(self, name: str):
        self.name = name
        self.answer = CORPUS[name]
        self.raw: EndlessJSON | None = None
        self.calls = 0

    def __call__(self, request):
        self.calls += 1
        if self.name == "huge_body":
            body, self.raw = huge_body()
            return 200, dict(JSON), body
        return self.answer.status, dict(self.answer.headers), self.answer.body


def public_methods(cls) -> dict:
    """Every public method a client class offers, found by introspection, so that a method added
    later is fed the corpus too (or fails the test until it can be)."""
    import inspect

    return {
        name: member
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def call_arguments(method, samples: dict) -> tuple[list, dict]:
    """Arguments for a method from sample values by parameter name; a required parameter without a
    sample fails loudly, naming it."""
    import inspect

    args, kwargs = [], {}
    for name, parameter in list(inspect.signature(method).parameters.items())[1:]:
        if parameter.default is not inspect.Parameter.empty:
            continue
        assert name in samples, (
            f"{method.__qualname__}: add a sample value for its parameter {name!r} to the "
            "hostile-answer test"
        )
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[name] = samples[name]
        else:
            args.append(samples[name])
    return args, kwargs


def kept_promise(method, result) -> bool:
    """Whether a method's result is what its return annotation promises: dict, list[dict],
    Iterator[dict], Iterator[Page] (of dicts), each optionally `| None`."""
    import collections.abc
    import types
    import typing

    promise = typing.get_type_hints(method).get("return")
    assert promise is not None, f"{method.__qualname__}: annotate its return type"
    if promise is typing.Any:
        return True
    options = typing.get_args(promise) if isinstance(promise, types.UnionType) else (promise,)
    for option in options:
        if option is type(None) and result is None:
            return True
        if option is dict and isinstance(result, dict):
            return True
        origin = typing.get_origin(option)
        if origin in (list, collections.abc.Iterator) and isinstance(result, list):
            (item_type,) = typing.get_args(option)
            if item_type is dict:
                return all(isinstance(item, dict) for item in result)
            # Page: a dataclass holding a list of dicts
            return all(
                isinstance(item, item_type)
                and isinstance(item.items, list)
                and all(isinstance(entry, dict) for entry in item.items)
                for item in result
            )
    return False


# Words that only appear when a Python error or a raw body leaks into a message.
LEAKS = ("Traceback", "JSONDecodeError", "KeyError", "TypeError", "Expecting value", "<html", "\\x")


def clear_message(error: BaseException, *, service: str) -> str | None:
    """Why a typed error's message is not one a customer or support can act on, or None."""
    message = str(error)
    if service not in message:
        return f"does not name {service}: {message!r}"
    if len(message) > 400:
        return f"is {len(message)} characters long"
    leaked = [word for word in LEAKS if word in message]
    if leaked:
        return f"leaks {leaked}: {message!r}"
    return None
