"""Re-encrypt every secret at rest with the first key of ENCRYPTION_KEYS.

Key rotation: put the new key first in ENCRYPTION_KEYS and keep the old one after it (secrets
still decrypt with any listed key, and new ones are written with the first), deploy, run this
command, then drop the old key.
"""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from encrypted_fields.fields import EncryptedFieldMixin

BATCH = 500


def encrypted_fields_by_model():
    for model in apps.get_models():
        fields = [
            field.name
            for field in model._meta.concrete_fields
            if isinstance(field, EncryptedFieldMixin)
        ]
        if fields:
            yield model, fields


class Command(BaseCommand):
    help = "Re-encrypt all secrets at rest with the first key in ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        for model, fields in encrypted_fields_by_model():
            rows = 0
            pks = list(model._base_manager.order_by("pk").values_list("pk", flat=True))
            for start in range(0, len(pks), BATCH):
                with transaction.atomic():
                    batch = model._base_manager.select_for_update().filter(
                        pk__in=pks[start : start + BATCH]
                    )
                    for row in batch:
                        # Reading decrypts with whichever listed key fits; saving encrypts with
                        # the first.
                        row.save(update_fields=fields)
                        rows += 1
            self.stdout.write(f"{model._meta.label}: {rows} rows, fields {', '.join(fields)}")
