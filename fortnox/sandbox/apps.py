from django.apps import AppConfig


class FortnoxSandboxConfig(AppConfig):
    name = "fortnox.sandbox"
    label = "fortnox_sandbox"
    verbose_name = "Fortnox sandbox"
