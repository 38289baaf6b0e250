from django.apps import AppConfig


class OngoingSandboxConfig(AppConfig):
    name = "ongoing.sandbox"
    label = "ongoing_sandbox"
    verbose_name = "Ongoing WMS sandbox"
