from django.apps import AppConfig


class OngoingConfig(AppConfig):
    name = "ongoing"
    verbose_name = "Ongoing WMS"
