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
    link = RecordLink(
        integration=integration,
        object_type=object_type,
        fortnox_key=fortnox_key,
        ongoing_key=ongoing_key,
        fingerprint=fingerprint,
        synced_at=timezone.now(),
    )
    # One upsert: a write per object, whether the link is new or not.
    RecordLink.objects.bulk_create(
        [link],
        update_conflicts=True,
        unique_fields=["integration", "object_type", "fortnox_key"],
        update_fields=["ongoing_key", "fingerprint", "synced_at"],
    )
    return link
