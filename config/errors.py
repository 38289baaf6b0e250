"""Server-error reports (the e-mails to ADMINS, and the debug page where DEBUG is on) without
secrets. Django's filter hides settings by name but shows every POST field, GET parameter and
local variable unless a view is marked with sensitive_post_parameters/sensitive_variables; a
view that forgets the mark would mail a WMS password or a token to support. These hide them by
name everywhere: POST fields, GET parameters (and the URL that repeats them), and each frame's
variables, with secret-looking keys masked inside dicts and lists too."""

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpRequest
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from integrations.http import masked

# Names of request fields and variables that hold secrets: passwords, tokens, keys, the OAuth
# code and state, signatures, cookies, salts.
SECRET_NAMES = re.compile(
    r"pass|secret|token|key|code|state|auth|signature|cookie|salt|credential", re.IGNORECASE
)


def masked_query(query: str, substitute: str) -> str:
    return urlencode(
        [
            (name, substitute if SECRET_NAMES.search(name) else value)
            for name, value in parse_qsl(query, keep_blank_values=True)
        ],
        safe="*",
    )


class SecretsFilter(SafeExceptionReporterFilter):
    def get_safe_request_meta(self, request):
        meta = super().get_safe_request_meta(request)
        if meta.get("QUERY_STRING"):
            meta["QUERY_STRING"] = masked_query(meta["QUERY_STRING"], self.cleansed_substitute)
        return meta

    def get_post_parameters(self, request):
        parameters = super().get_post_parameters(request)
        if request is None or not self.is_active(request):
            return parameters
        cleansed = parameters.copy()
        for name in cleansed:
            if SECRET_NAMES.search(name):
                cleansed[name] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [
            (name, self.cleansed_substitute if SECRET_NAMES.search(name) else self._masked(value))
            for name, value in variables
        ]

    def _masked(self, value):
        if isinstance(value, HttpRequest):
            # Its repr repeats the URL with the query string.
            query = masked_query(value.META.get("QUERY_STRING", ""), self.cleansed_substitute)
            return f"<{value.__class__.__name__}: {value.method} {value.path}?{query}>"
        return masked(value) if isinstance(value, dict | list) else value


class SecretsReporter(ExceptionReporter):
    def get_traceback_data(self):
        data = super().get_traceback_data()
        if self.request is not None:
            substitute = self.filter.cleansed_substitute
            data["request_GET_items"] = [
                (name, substitute if SECRET_NAMES.search(name) else value)
                for name, value in self.request.GET.items()
            ]
            if "request_insecure_uri" in data:
                parts = urlsplit(data["request_insecure_uri"])
                data["request_insecure_uri"] = urlunsplit(
                    parts._replace(query=masked_query(parts.query, substitute))
                )
        return data
