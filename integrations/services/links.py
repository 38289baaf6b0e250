"""Record links: which Ongoing object a Fortnox object became and what was last sent for it."""

from django.utils import timezone

from integrations.models import Integration, RecordLink


def record_link_save(
    *,
    integration: Integration,
    object_type: str,
    fortnox_key: str,
    ongoing_key: str = "",
    fingerprint: str = "",
) -> RecordLink:
    link, _created = RecordLink.objects.update_or_create(
        integration=integration,
        object_type=object_type,
        fortnox_key=fortnox_key,
        defaults={
            "ongoing_key": ongoing_key,
            "fingerprint": fingerprint,
            "synced_at": timezone.now(),
        },
    )
    return link
