"""Encryption key rotation: with the new key first and the old one after it, old secrets still
decrypt; the re-encrypt command rewrites them with the new key, after which the old key can go."""

import io

import pytest
from django.core.management import CommandError, call_command
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
    def use(keys: list[str], *, secret_key: str | None = None, fallbacks=()) -> None:
        settings.SALT_KEY = keys
        if secret_key is not None:
            settings.SECRET_KEY = secret_key
        settings.SECRET_KEY_FALLBACKS = list(fallbacks)
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


def command(*args) -> str:
    output = io.StringIO()
    call_command("secrets_reencrypt", *args, stdout=output)
    return output.getvalue()


def test_check_reports_which_key_opens_each_secret_and_changes_nothing(use_keys):
    use_keys(["old-encryption-key-1234"])
    old = FortnoxConnectionFactory(refresh_token="r1")
    use_keys(["new-encryption-key-5678", "old-encryption-key-1234"])
    FortnoxConnectionFactory(refresh_token="r2")
    before = stored("fortnox_fortnoxconnection", "refresh_token", old.pk)

    report = command("--check")

    assert "fortnox.FortnoxConnection.refresh_token: 1 on the current key, 1 on an older key" in (
        report
    )
    assert "1 rows still need re-encrypting." in report
    assert stored("fortnox_fortnoxconnection", "refresh_token", old.pk) == before

    command()

    assert "Ready to drop the older keys." in command("--check")


def test_a_secret_no_key_opens_stops_the_rotation_before_anything_is_written(use_keys):
    """The field library hands back an undecryptable value as if it were the secret: re-saving
    it would encrypt the ciphertext for good. The command refuses and names the rows instead."""
    use_keys(["lost-encryption-key-000"])
    lost = FortnoxConnectionFactory(refresh_token="r1")
    use_keys(["new-encryption-key-5678"])
    kept = FortnoxConnectionFactory(refresh_token="r2")
    before = stored("fortnox_fortnoxconnection", "refresh_token", lost.pk)

    with pytest.raises(CommandError, match=rf"fortnox.FortnoxConnection rows \[{lost.pk}\]"):
        command()

    assert stored("fortnox_fortnoxconnection", "refresh_token", lost.pk) == before
    use_keys(["new-encryption-key-5678", "lost-encryption-key-000"])
    assert FortnoxConnection.objects.get(pk=lost.pk).refresh_token == "r1"
    assert FortnoxConnection.objects.get(pk=kept.pk).refresh_token == "r2"


def test_rotating_the_secret_key_keeps_every_secret_readable(use_keys, settings):
    old_secret = settings.SECRET_KEY
    use_keys(["encryption-key-1234"])
    ongoing = OngoingConnectionFactory(password="warehouse-secret")

    use_keys(["encryption-key-1234"], secret_key="n" * 50, fallbacks=[old_secret])
    assert OngoingConnection.objects.get(pk=ongoing.pk).password == "warehouse-secret"
    command()
    use_keys(["encryption-key-1234"], secret_key="n" * 50)

    assert OngoingConnection.objects.get(pk=ongoing.pk).password == "warehouse-secret"
