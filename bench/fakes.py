"""Fortnox and Ongoing answering "nothing changed" instantly, in-process, so a benchmark measures
our own overhead only. No Django setup here: the benchmark's Celery worker imports it too."""

import re

import responses

EMPTY_PAGE = {"MetaInformation": {"@TotalResources": 0, "@TotalPages": 1, "@CurrentPage": 1}}


def quiet_apis(mock_http: responses.RequestsMock) -> None:
    for plural in ("Suppliers", "Articles", "Orders", "Customers"):
        mock_http.get(
            re.compile(rf"https://api\.fortnox\.se/3/{plural.lower()}.*"),
            json={**EMPTY_PAGE, plural: []},
        )
    mock_http.get(re.compile(r"https://api\.ongoingsystems\.se/.*"), json=[])


def quiet_apis_start() -> responses.RequestsMock:
    """Answer quietly until the process ends (a worker process has no block to scope it to)."""
    mock_http = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock_http.start()
    quiet_apis(mock_http)
    return mock_http


def calls_forget(mock_http: responses.RequestsMock) -> None:
    """`responses` keeps every request it answered, on the mock and on each registered answer:
    that is the fake's memory growing, not ours, so a long benchmark drops them."""
    mock_http.calls.reset()
    for answer in mock_http.registered():
        answer.calls.reset()
