"""Re-encrypt every secret at rest with the current key, or (--check) report which key opens each.

The Fernet keys are derived from SECRET_KEY (then each SECRET_KEY_FALLBACKS entry) with each salt
of ENCRYPTION_KEYS; new values are written with the first pair. Rotation: put the new salt first
in ENCRYPTION_KEYS (or the new SECRET_KEY in place, the old one in SECRET_KEY_FALLBACKS), keep the
old ones, deploy, run this command, check that --check reports nothing on an older key, then drop
the old ones.

A value no listed key opens is never rewritten: the field library would hand back the ciphertext
as if it were the secret, and saving it would encrypt the ciphertext. The command refuses to
write anything while such a value exists and names the rows.
"""

from collections import Counter
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.db.models.functions import Cast
from encrypted_fields.fields import EncryptedFieldMixin

BATCH = 500
CURRENT, OLDER, UNREADABLE = "current key", "older key", "no key"


def encrypted_fields_by_model():
    for model in apps.get_models():
        fields = [
            model_field.name
            for model_field in model._meta.concrete_fields
            if isinstance(model_field, EncryptedFieldMixin)
        ]
        if fields:
            yield model, fields


def key_opening(encrypted, ciphertext: str) -> str:
    """Which key opens a stored value of the encrypted field: the current one, an older one, or
    none."""
    token = ciphertext.encode()
    try:
        Fernet(encrypted.keys[0]).decrypt(token)
        return CURRENT
    except InvalidToken:
        pass
    try:
        MultiFernet([Fernet(key) for key in encrypted.keys]).decrypt(token)
        return OLDER
    except InvalidToken:
        return UNREADABLE


def stored_values(model, names):
    """(pk, {field: ciphertext}) per row, read past the fields' decryption."""
    raw = {f"raw_{name}": Cast(name, output_field=models.TextField()) for name in names}
    for row in model._base_manager.annotate(**raw).values("pk", *raw).order_by("pk").iterator():
        yield row["pk"], {name: row[f"raw_{name}"] for name in names if row[f"raw_{name}"]}


@dataclass
class Survey:
    names: list[str]
    counts: Counter = field(default_factory=Counter)  # (field, state) -> rows
    stale: list = field(default_factory=list)  # rows with a value on an older key
    unreadable: list = field(default_factory=list)  # rows with a value no key opens


def survey(model, names) -> Survey:
    result = Survey(names=names)
    for pk, values in stored_values(model, names):
        states = {
            name: key_opening(model._meta.get_field(name), value) for name, value in values.items()
        }
        result.counts.update(states.items())
        if UNREADABLE in states.values():
            result.unreadable.append(pk)
        elif OLDER in states.values():
            result.stale.append(pk)
    return result


class Command(BaseCommand):
    help = "Re-encrypt all secrets at rest with the current key (--check: only report)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Report which key opens each secret only."
        )

    def handle(self, *args, check=False, **options):
        surveys = {model: survey(model, names) for model, names in encrypted_fields_by_model()}
        for model, found in surveys.items():
            for name in found.names:
                self.stdout.write(
                    f"{model._meta.label}.{name}: {found.counts[(name, CURRENT)]} on the current "
                    f"key, {found.counts[(name, OLDER)]} on an older key, "
                    f"{found.counts[(name, UNREADABLE)]} that no key opens"
                )
        unreadable = {
            model._meta.label: f.unreadable for model, f in surveys.items() if f.unreadable
        }
        if unreadable:
            listing = "; ".join(f"{label} rows {rows}" for label, rows in unreadable.items())
            raise CommandError(
                f"Secrets that no listed key opens: {listing}. Put the key they were written "
                "with back into ENCRYPTION_KEYS / SECRET_KEY_FALLBACKS; nothing was changed."
            )
        stale = sum(len(found.stale) for found in surveys.values())
        if check:
            self.stdout.write(
                f"{stale} rows still need re-encrypting." if stale
                else "Ready to drop the older keys."
            )  # fmt: skip
            return
        for model, found in surveys.items():
            for start in range(0, len(found.stale), BATCH):
                with transaction.atomic():
                    # Reading decrypts with whichever listed key fits; writing encrypts with the
                    # current one.
                    rows = list(
                        model._base_manager.select_for_update().filter(
                            pk__in=found.stale[start : start + BATCH]
                        )
                    )
                    model._base_manager.bulk_update(rows, found.names)
            self.stdout.write(f"{model._meta.label}: {len(found.stale)} rows re-encrypted")
