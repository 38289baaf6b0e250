"""The UI speaks Swedish and English: the browser's language picks one, the switch in the header
changes it, and the Swedish catalogue is complete."""

import ast
import gettext
from pathlib import Path

import pytest
from django.urls import reverse

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "sv" / "LC_MESSAGES"


@pytest.mark.django_db
def test_swedish_browser_gets_swedish_pages(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="sv-SE,sv;q=0.9")

    assert response.headers["Content-Language"] == "sv"
    assert 'lang="sv"' in response.content.decode()
    assert "Logga in" in response.content.decode()


@pytest.mark.django_db
def test_english_browser_gets_english_pages(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")

    assert response.headers["Content-Language"] == "en"
    assert "Sign in" in response.content.decode()


@pytest.mark.django_db
def test_language_switch_sticks(client):
    client.post(reverse("set_language"), {"language": "sv", "next": "/"})

    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")

    assert "Logga in" in response.content.decode()


def _entries(po_text: str):
    """(msgid, [msgstr…], flags) for each live entry of a .po file; the header is skipped."""
    for block in po_text.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#~")]
        flags = " ".join(line for line in lines if line.startswith("#,"))
        fields: dict[str, str] = {}
        key = None
        for line in lines:
            if line.startswith(("msgid", "msgstr", "msgctxt")):
                key, _, rest = line.partition(" ")
                fields[key] = rest.strip()[1:-1]
            elif line.startswith('"') and key:
                fields[key] += line.strip()[1:-1]
        if "msgctxt" in fields:
            flags += " msgctxt"
        if fields.get("msgid"):
            yield (
                fields["msgid"],
                [value for name, value in fields.items() if name.startswith("msgstr")],
                flags,
            )


def _unescape(po_string: str) -> str:
    return ast.literal_eval(f'"{po_string}"')


def test_swedish_catalogue_is_compiled_and_complete():
    po = (LOCALE / "django.po").read_text(encoding="utf-8")
    entries = list(_entries(po))

    untranslated = [msgid for msgid, strs, _ in entries if not all(strs)]
    fuzzy = [msgid for msgid, _, flags in entries if "fuzzy" in flags]
    assert len(entries) > 100
    assert untranslated == []
    assert fuzzy == []
    with (LOCALE / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    stale = [
        msgid
        for msgid, strs, flags in entries
        if len(strs) == 1
        and "msgctxt" not in flags
        and compiled.gettext(_unescape(msgid)) != _unescape(strs[0])
    ]
    assert stale == [], "run `make messages` to recompile django.mo"


def test_every_translatable_string_in_the_code_is_in_the_swedish_catalogue(
    tmp_path, monkeypatch, settings
):
    """makemessages over the code into a copy of the catalogue (the checkout linked into a
    folder of its own, so the real catalogue is not touched): a string added to the code without
    `make messages` would be English on the Swedish pages without the test above noticing."""
    from django.core.management import call_command

    root = LOCALE.parents[2]
    for entry in root.iterdir():
        if entry.name not in ("locale", ".venv", "var", ".git", "node_modules"):
            (tmp_path / entry.name).symlink_to(entry)
    copy = tmp_path / "locale" / "sv" / "LC_MESSAGES"
    copy.mkdir(parents=True)
    (copy / "django.po").write_text(
        (LOCALE / "django.po").read_text(encoding="utf-8"), encoding="utf-8"
    )
    settings.LOCALE_PATHS = []
    monkeypatch.chdir(tmp_path)
    call_command("makemessages", locale=["sv"], symlinks=True, verbosity=0)

    def msgids(path: Path) -> set[str]:
        return {msgid for msgid, _strs, _flags in _entries(path.read_text(encoding="utf-8"))}

    missing = msgids(copy / "django.po") - msgids(LOCALE / "django.po")
    assert missing == set(), "run `make messages` and translate the new strings"
