import os

from django.apps import AppConfig


class FortnoxConfig(AppConfig):
    name = "fortnox"
    verbose_name = "Fortnox"

    def ready(self):
        from django.conf import settings

        # oauthlib refuses plain-http authorisation URLs, and the sandbox runs on http://localhost.
        # Production settings refuse SANDBOX_ENABLED, so there only HTTPS is ever accepted.
        if settings.SANDBOX_ENABLED:
            os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
