"""What a customer's "System" means, and which API base URLs we may ever call.

The System field is user input that decides where we send the customer's credentials, so it is
parsed strictly and the result is limited to a fixed set of hosts: the Ongoing API hosts
(settings.ONGOING_API_HOSTS) and, with SANDBOX_ENABLED, the sandbox's own origin. The host the
customer typed is never contacted itself; only the warehouse name is taken from it.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext_lazy as _

WAREHOUSE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_HOST_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_CUSTOMER_ID = re.compile(r"^\d{1,12}$")
_API_PATH = re.compile(r"^/(?P<warehouse>[A-Za-z0-9][A-Za-z0-9_-]{0,63})/api/v1/$")


class SystemRefused(ValueError):
    """The System is not one we may contact; the message is for the customer."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ParsedSystem:
    system: str
    warehouse: str
    # Tried in order: production first, then demo (the login URL cannot tell them apart).
    api_base_urls: tuple[str, ...]


NOT_ONGOING = _(
    "This is not an Ongoing WMS address. Type the address you sign in to your WMS with, "
    "for example https://demo.ongoingsystems.se/demo/, or your Ongoing customer ID."
)


def system_parse(*, system: str) -> ParsedSystem:
    """The warehouse and the API base URLs to try for what the customer typed as System."""
    text = (system or "").strip()
    if _CUSTOMER_ID.match(text):
        url = _customer_system(text)
        if url is None:
            raise SystemRefused(
                _(
                    "We do not know the Ongoing customer ID %(customer_id)s. Type the address "
                    "you sign in to your WMS with instead, for example "
                    "https://demo.ongoingsystems.se/demo/."
                )
                % {"customer_id": text}
            )
        return _parse_url(url, system=text)
    return _parse_url(text, system=text)


def _customer_system(customer_id: str) -> str | None:
    known = settings.ONGOING_CUSTOMER_SYSTEMS.get(customer_id)
    if known:
        return known
    if settings.SANDBOX_ENABLED:
        from ongoing.sandbox.models import Warehouse

        warehouse = Warehouse.objects.filter(customer_id=customer_id).first()
        if warehouse is not None:
            return warehouse.system_url
    return None


def _parse_url(text: str, *, system: str) -> ParsedSystem:
    # Anything a browser would quietly normalise (spaces, backslashes, control characters) could
    # make our parser and the HTTP library disagree about the host, so it is refused outright.
    if not text or any(ch.isspace() or ch == "\\" or ord(ch) < 32 for ch in text):
        raise SystemRefused(NOT_ONGOING)
    had_scheme = "://" in text
    if not had_scheme:
        text = f"https://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise SystemRefused(NOT_ONGOING) from None
    if parts.scheme not in ("http", "https") or "@" in parts.netloc:
        raise SystemRefused(NOT_ONGOING)

    sandbox = _sandbox_warehouse(parts, had_scheme=had_scheme)
    if sandbox is not None:
        return ParsedSystem(
            system=system, warehouse=sandbox, api_base_urls=(sandbox_api_base_url(sandbox),)
        )

    host = (parts.hostname or "").lower()
    if port is not None or not ongoing_host_allowed(host):
        raise SystemRefused(NOT_ONGOING)
    segments = [segment for segment in parts.path.split("/") if segment]
    if not segments or not WAREHOUSE_NAME.match(segments[0]):
        raise SystemRefused(
            _(
                "The address must name your warehouse, like https://demo.ongoingsystems.se/demo/ "
                "(the part after the host)."
            )
        )
    warehouse = segments[0]
    return ParsedSystem(
        system=system,
        warehouse=warehouse,
        api_base_urls=tuple(
            f"https://{api}/{warehouse}/api/v1/" for api in settings.ONGOING_API_HOSTS
        ),
    )


def ongoing_host_allowed(host: str) -> bool:
    """A DNS name under ONGOING_ALLOWED_HOST_SUFFIX: no IP literal, no look-alike."""
    suffix = settings.ONGOING_ALLOWED_HOST_SUFFIX
    if not host.endswith(suffix) or len(host) <= len(suffix):
        return False
    return all(_HOST_LABEL.match(label) for label in host.split("."))


# --- The sandbox --------------------------------------------------------------------------------


def _sandbox_prefix() -> tuple[str, str, str] | None:
    """(scheme, netloc, path) every sandbox warehouse lives under, or None when disabled."""
    if not settings.SANDBOX_ENABLED:
        return None
    parts = urlsplit(f"{settings.SANDBOX_BASE_URL.rstrip('/')}/ongoing/")
    return parts.scheme, parts.netloc.lower(), parts.path


def _sandbox_warehouse(parts, *, had_scheme: bool) -> str | None:
    prefix = _sandbox_prefix()
    if prefix is None or parts.netloc.lower() != prefix[1]:
        return None
    # "localhost:8000/sandbox/ongoing/demolager/" typed without a scheme means the sandbox's own.
    if had_scheme and parts.scheme != prefix[0]:
        raise SystemRefused(NOT_ONGOING)
    if not parts.path.startswith(prefix[2]):
        raise SystemRefused(NOT_ONGOING)
    name = parts.path[len(prefix[2]) :].split("/")[0]
    if not WAREHOUSE_NAME.match(name):
        raise SystemRefused(NOT_ONGOING)
    return name


def sandbox_system_url(warehouse: str) -> str:
    """What a person types as System to reach a sandbox warehouse (its operator page, too)."""
    return f"{settings.SANDBOX_BASE_URL.rstrip('/')}/ongoing/{warehouse}/"


def sandbox_api_base_url(warehouse: str) -> str:
    return f"{sandbox_system_url(warehouse)}api/v1/"


# --- The last check before any request ----------------------------------------------------------


def api_base_url_allowed(url: str) -> bool:
    """True for https://<Ongoing API host>/<warehouse>/api/v1/ and, with SANDBOX_ENABLED, the
    sandbox's own API URLs. The client checks this before every session it opens, so a stored
    connection edited by hand cannot point our credentials anywhere else either."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if "@" in parts.netloc or parts.query or parts.fragment:
        return False
    prefix = _sandbox_prefix()
    if prefix is not None and (parts.scheme, parts.netloc.lower()) == prefix[:2]:
        rest = parts.path[len(prefix[2]) - 1 :] if parts.path.startswith(prefix[2]) else ""
        return bool(_API_PATH.match(rest))
    return (
        parts.scheme == "https"
        and port is None
        and (parts.hostname or "") in settings.ONGOING_API_HOSTS
        and bool(_API_PATH.match(parts.path))
    )
