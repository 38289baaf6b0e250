"""Where the integrations app listens to the Fortnox app: reactivation needed, consent renewed."""

from django.dispatch import receiver

from fortnox.signals import connection_connected, connection_needs_reactivation

from .services.reactivation import integration_run_after_reactivation, reactivation_incident_open


@receiver(connection_needs_reactivation, dispatch_uid="integrations.reactivation_email")
def on_connection_needs_reactivation(sender, connection, **kwargs):
    reactivation_incident_open(connection_id=connection.pk)


@receiver(connection_connected, dispatch_uid="integrations.run_after_reactivation")
def on_connection_connected(sender, connection, reactivated=False, **kwargs):
    if reactivated:
        integration_run_after_reactivation(connection_id=connection.pk)
