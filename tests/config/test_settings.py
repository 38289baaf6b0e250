"""Settings are read from the environment, and production refuses to start when unsafe. Each case
imports the settings in a fresh interpreter, as a deployment would."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAFE_PRODUCTION = {
    "SECRET_KEY": "p9Zq-7Lx#2Wm" * 5,
    "ENCRYPTION_KEYS": "k3yMaterial-8f2b1c9d0e7a",
    "DATABASE_URL": "postgres://app:pw@db:5432/app",
    "CELERY_BROKER_URL": "redis://redis:6379/0",
    "REDIS_URL": "redis://redis:6379/1",
    "ALLOWED_HOSTS": "integration.example.com",
}
PRINT = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({key: str(getattr(settings, key)) for key in %r}))"
)


def load(module: str, env: dict, keys: list[str]) -> subprocess.CompletedProcess:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("DJANGO", "CELERY"))
    }
    for key in ["DATABASE_URL", "REDIS_URL", "SANDBOX_ENABLED", "SECRET_KEY", "ENCRYPTION_KEYS"]:
        environment.pop(key, None)
    environment.update(env, DJANGO_SETTINGS_MODULE=f"config.settings.{module}")
    return python(["-c", PRINT % keys], environment)


def python(arguments: list[str], environment: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def values(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_local_defaults_need_no_server():
    result = values(
        load("local", {}, ["DATABASES", "CELERY_BROKER_URL", "SANDBOX_ENABLED", "CACHES"])
    )

    assert "sqlite3" in result["DATABASES"]
    assert result["CELERY_BROKER_URL"] == "filesystem://"
    assert result["SANDBOX_ENABLED"] == "True"
    assert "FileBasedCache" in result["CACHES"]


def test_settings_parse_from_the_environment():
    result = values(
        load(
            "local",
            {
                "DATABASE_URL": "postgres://u:p@db.internal:5433/wms",
                "CELERY_BROKER_URL": "redis://broker:6379/0",
                "REDIS_URL": "redis://cache:6379/1",
                "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
                "FORTNOX_CLIENT_ID": "abc123",
                "FORTNOX_REDIRECT_URI": "https://x.example.com/fortnox/callback/",
                "SANDBOX_ENABLED": "false",
                "ENCRYPTION_KEYS": "new-key-000000000,old-key-111111111",
            },
            [
                "DATABASES",
                "CELERY_BROKER_URL",
                "CACHES",
                "EMAIL_HOST",
                "EMAIL_PORT",
                "EMAIL_USE_TLS",
                "FORTNOX_CLIENT_ID",
                "FORTNOX_REDIRECT_URI",
                "FORTNOX_API_BASE_URL",
                "SANDBOX_ENABLED",
                "SALT_KEY",
            ],
        )
    )

    assert "'ENGINE': 'django.db.backends.postgresql'" in result["DATABASES"]
    assert "'HOST': 'db.internal'" in result["DATABASES"]
    assert "'PORT': 5433" in result["DATABASES"]
    assert result["CELERY_BROKER_URL"] == "redis://broker:6379/0"
    assert "redis://cache:6379/1" in result["CACHES"]
    assert (result["EMAIL_HOST"], result["EMAIL_PORT"], result["EMAIL_USE_TLS"]) == (
        "smtp.example.com",
        "587",
        "True",
    )
    assert result["FORTNOX_CLIENT_ID"] == "abc123"
    assert result["FORTNOX_REDIRECT_URI"] == "https://x.example.com/fortnox/callback/"
    assert result["FORTNOX_API_BASE_URL"] == "https://api.fortnox.se"
    assert result["SANDBOX_ENABLED"] == "False"
    assert result["SALT_KEY"] == "['new-key-000000000', 'old-key-111111111']"


def test_production_starts_with_safe_settings():
    result = values(load("production", SAFE_PRODUCTION, ["DEBUG", "SANDBOX_ENABLED"]))

    assert result == {"DEBUG": "False", "SANDBOX_ENABLED": "False"}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"SANDBOX_ENABLED": "true"}, "SANDBOX_ENABLED must be off"),
        ({"SECRET_KEY": ""}, "SECRET_KEY is missing or a development default"),
        ({"SECRET_KEY": "django-insecure-" + "x" * 50}, "development default"),
        ({"SECRET_KEY": "short-but-random-1234"}, "at least 50 characters"),
        ({"ENCRYPTION_KEYS": ""}, "ENCRYPTION_KEYS must hold"),
        ({"ENCRYPTION_KEYS": "local-only-encryption-salt"}, "ENCRYPTION_KEYS must hold"),
        ({"DATABASE_URL": "sqlite:///db.sqlite3"}, "DATABASE_URL must point at PostgreSQL"),
    ],
)
def test_production_refuses_unsafe_settings(change, reason):
    result = load("production", {**SAFE_PRODUCTION, **change}, ["DEBUG"])

    assert result.returncode != 0
    assert "Production settings refused" in result.stderr
    assert reason in result.stderr


def test_production_passes_check_deploy():
    environment = {**os.environ, **SAFE_PRODUCTION}
    environment["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    environment.pop("SANDBOX_ENABLED", None)
    result = python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], environment)

    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_env_example_lists_every_variable_the_settings_read():
    read = set()
    for module in (ROOT / "config" / "settings").glob("*.py"):
        read |= set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z0-9_]+)"', module.read_text()))
    example = (ROOT / ".env.example").read_text().splitlines()
    listed = {line.split("=", 1)[0] for line in example if re.match(r"^[A-Z0-9_]+=", line)}

    assert read - listed == set()
    assert len(read) > 20
    for index, line in enumerate(example):
        if re.match(r"^[A-Z0-9_]+=", line):
            assert example[index - 1].startswith("#"), f"{line} has no comment line above it"
