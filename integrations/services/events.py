from integrations.models import Integration, IntegrationEvent
from integrations.text import printable, storable


def integration_event_record(
    *,
    integration: Integration,
    kind: str,
    message: str,
    actor=None,
    data: dict | None = None,
) -> IntegrationEvent:
    return IntegrationEvent.objects.create(
        integration=integration,
        kind=kind,
        message=printable(message, max_length=300),
        actor=actor if actor is not None and actor.is_authenticated else None,
        data=storable(data or {}),
    )
