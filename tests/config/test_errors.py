"""Server-error reports (the e-mails to ADMINS) hide secrets even where a view forgot to mark
them: POST fields, GET parameters, the URL, and frame variables by name or by key inside them."""

import sys

from django.test import RequestFactory
from django.views.debug import ExceptionReporter

from config.errors import SecretsFilter, SecretsReporter
from fortnox.oauth import TokenSet


def report(request) -> str:
    def handle(password, refresh_token, body, tokens):
        raise RuntimeError("boom")

    try:
        handle(
            password="wms-password-1",
            refresh_token="refresh-token-2",
            body={"access_token": "access-token-3", "expires_in": 3600},
            tokens=TokenSet(
                access_token="access-token-4", refresh_token="r5", expires_at=None, scopes=[]
            ),
        )
    except RuntimeError:
        reporter = SecretsReporter(request, *sys.exc_info(), is_email=True)
    assert isinstance(reporter.filter, SecretsFilter)
    return reporter.get_traceback_text() + reporter.get_traceback_html()


def test_the_report_hides_secret_fields_parameters_and_variables(settings):
    settings.DEBUG = False
    request = RequestFactory().post(
        "/fortnox/callback/?code=oauth-code-6&state=state-7&page=2",
        {"password": "posted-password-8", "username": "WSIDemo"},
    )

    text = report(request)

    for secret in (
        "wms-password-1", "refresh-token-2", "access-token-3", "access-token-4",
        "oauth-code-6", "state-7", "posted-password-8",
    ):  # fmt: skip
        assert secret not in text, secret
    assert "WSIDemo" in text
    assert "page=2" in text


def test_settings_use_them(settings):
    assert ExceptionReporter is not SecretsReporter
    assert settings.DEFAULT_EXCEPTION_REPORTER == "config.errors.SecretsReporter"
    assert settings.DEFAULT_EXCEPTION_REPORTER_FILTER == "config.errors.SecretsFilter"


def test_token_sets_do_not_show_their_tokens():
    tokens = TokenSet(access_token="a-secret", refresh_token="r-secret", expires_at=None, scopes=[])

    assert "secret" not in repr(tokens)
