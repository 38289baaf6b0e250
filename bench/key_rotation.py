"""Encryption key rotation at scale (RELIABILITY.md section 6): N companies with a Fortnox and a
warehouse connection, their secrets written under the old key; the new key goes first in
ENCRYPTION_KEYS; `secrets_reencrypt --check`, then `secrets_reencrypt`, then `--check` again; then
the old key is dropped and every secret is read back.

    .venv/bin/python bench/key_rotation.py --companies 1000
"""

import argparse
import io
import time

from harness import table, throwaway_database

OLD, NEW = "old-encryption-salt-2025", "new-encryption-salt-2026"


def use_keys(keys: list[str]) -> None:
    from django.conf import settings

    from integrations.management.commands.secrets_reencrypt import encrypted_fields_by_model

    settings.SALT_KEY = keys
    for model, names in encrypted_fields_by_model():
        for name in names:
            field = model._meta.get_field(name)
            field.__dict__.pop("keys", None)
            field.__dict__.pop("f", None)


def timed(*args) -> tuple[float, str]:
    from django.core.management import call_command

    output = io.StringIO()
    started = time.perf_counter()
    call_command("secrets_reencrypt", *args, stdout=output)
    return time.perf_counter() - started, output.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--companies", type=int, default=1000)
    companies = parser.parse_args().companies

    from fortnox.models import FortnoxConnection
    from ongoing.models import OngoingConnection
    from tests.factories import FortnoxConnectionFactory, OngoingConnectionFactory, TenantFactory

    with throwaway_database():
        use_keys([OLD])
        for number in range(companies):
            tenant = TenantFactory()
            FortnoxConnectionFactory(
                tenant=tenant, access_token=f"access-{number}", refresh_token=f"refresh-{number}"
            )
            OngoingConnectionFactory(tenant=tenant, password=f"password-{number}")
        secrets = 3 * companies

        use_keys([NEW, OLD])
        check_before, report_before = timed("--check")
        rotate, _ = timed()
        check_after, report_after = timed("--check")
        use_keys([NEW])
        started = time.perf_counter()
        unreadable = sum(
            1
            for connection in FortnoxConnection.objects.all()
            if not (
                connection.access_token.startswith("access-")
                and connection.refresh_token.startswith("refresh-")
            )
        ) + sum(
            1
            for connection in OngoingConnection.objects.all()
            if not connection.password.startswith("password-")
        )
        read_back = time.perf_counter() - started
        assert "rows still need re-encrypting" in report_before
        assert "Ready to drop the older keys." in report_after

    print(
        table(
            [
                "companies",
                "secrets",
                "check before (s)",
                "re-encrypt (s)",
                "check after (s)",
                "read back with the new key only (s)",
                "unreadable after dropping the old key",
            ],
            [
                [
                    companies,
                    secrets,
                    f"{check_before:.2f}",
                    f"{rotate:.2f}",
                    f"{check_after:.2f}",
                    f"{read_back:.2f}",
                    unreadable,
                ]
            ],
        )
    )


if __name__ == "__main__":
    main()
