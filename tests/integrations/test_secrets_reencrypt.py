"""Encryption key rotation: with the new key first and the old one after it, old secrets still
decrypt; the re-encrypt command rewrites them with the new key, after which the old key can go."""

import io

import pytest
from django.core.management import call_command
from django.db import connection

from fortnox.models import FortnoxConnection
from integrations.management.commands.secrets_reencrypt import encrypted_fields_by_model
from ongoing.models import OngoingConnection
from tests.factories import FortnoxConnectionFactory, OngoingConnectionFactory

pytestmark = pytest.mark.django_db


def forget_derived_keys() -> None:
    """The fields derive their Fernet keys once per process: a deployment restarts, a test
    forgets them."""
    for model, names in encrypted_fields_by_model():
        for name in names:
            field = model._meta.get_field(name)
            field.__dict__.pop("keys", None)
            field.__dict__.pop("f", None)


@pytest.fixture
def use_keys(settings):
    def use(keys: list[str]) -> None:
        settings.SALT_KEY = keys
        forget_derived_keys()

    yield use
    forget_derived_keys()  # the settings fixture puts the test keys back


def stored(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_rotation_keeps_every_secret_readable(use_keys):
    use_keys(["old-encryption-key-1234"])
    fortnox = FortnoxConnectionFactory(refresh_token="refresh-secret")
    ongoing = OngoingConnectionFactory(password="warehouse-secret")
    before = stored("fortnox_fortnoxconnection", "refresh_token", fortnox.pk)

    use_keys(["new-encryption-key-5678", "old-encryption-key-1234"])
    assert FortnoxConnection.objects.get(pk=fortnox.pk).refresh_token == "refresh-secret"
    output = io.StringIO()
    call_command("secrets_reencrypt", stdout=output)

    assert "fortnox.FortnoxConnection: 1 rows" in output.getvalue()
    use_keys(["new-encryption-key-5678"])
    assert FortnoxConnection.objects.get(pk=fortnox.pk).refresh_token == "refresh-secret"
    assert OngoingConnection.objects.get(pk=ongoing.pk).password == "warehouse-secret"
    after = stored("fortnox_fortnoxconnection", "refresh_token", fortnox.pk)
    assert after != before
    assert "refresh-secret" not in after
