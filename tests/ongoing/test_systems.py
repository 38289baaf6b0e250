"""What a typed System means, and the allowlist that keeps the System field from becoming an SSRF
hole: only Ongoing's API hosts, and the sandbox only while it is enabled."""

import pytest

from ongoing.sandbox.models import Warehouse
from ongoing.systems import (
    SystemRefused,
    api_base_url_allowed,
    ongoing_host_allowed,
    sandbox_api_base_url,
    system_parse,
)

PRODUCTION_THEN_DEMO = (
    "https://api.ongoingsystems.se/demo/api/v1/",
    "https://wms1.ongoingsystems.se/demo/api/v1/",
)


@pytest.fixture(autouse=True)
def sandbox_at(settings):
    settings.SANDBOX_ENABLED = True
    settings.SANDBOX_BASE_URL = "http://localhost:8000/sandbox"
    settings.ONGOING_CUSTOMER_SYSTEMS = {"1234": "https://kund.ongoingsystems.se/kundlager/"}


@pytest.mark.parametrize(
    "system",
    [
        "https://demo.ongoingsystems.se/demo/",
        "https://demo.ongoingsystems.se/demo",
        "  https://demo.ongoingsystems.se/demo/  ",
        "http://demo.ongoingsystems.se/demo/",
        "demo.ongoingsystems.se/demo/",
        "https://DEMO.OngoingSystems.se/demo/Login.aspx?next=/x#top",
        "https://api.ongoingsystems.se/demo/api/v1/",
    ],
)
def test_wms_addresses_name_the_warehouse_and_try_production_then_demo(system):
    parsed = system_parse(system=system)
    assert parsed.warehouse == "demo"
    assert parsed.api_base_urls == PRODUCTION_THEN_DEMO
    assert parsed.system == system.strip()


def test_the_warehouse_is_taken_from_the_path_not_the_host():
    parsed = system_parse(system="https://lager.ongoingsystems.se/Lager_2-b/")
    assert parsed.api_base_urls[0] == "https://api.ongoingsystems.se/Lager_2-b/api/v1/"


def test_the_api_hosts_come_from_settings(settings):
    settings.ONGOING_API_HOSTS = ["api.ongoingsystems.se"]
    assert system_parse(system="https://x.ongoingsystems.se/x/").api_base_urls == (
        "https://api.ongoingsystems.se/x/api/v1/",
    )


def test_a_configured_customer_id_resolves_to_its_system():
    parsed = system_parse(system="1234")
    assert parsed.warehouse == "kundlager"
    assert parsed.system == "1234"
    assert parsed.api_base_urls[0] == "https://api.ongoingsystems.se/kundlager/api/v1/"


def test_an_unknown_customer_id_is_refused_with_its_own_message(db):
    with pytest.raises(SystemRefused) as refused:
        system_parse(system="999")
    assert "999" in str(refused.value.message)


@pytest.mark.parametrize(
    "system",
    [
        "",
        "   ",
        "not a url",
        "https://evil.example.com/demo/",
        "https://ongoingsystems.se/demo/",  # the bare domain is no system
        "https://ongoingsystems.se.evil.com/demo/",
        "https://evilongoingsystems.se/demo/",
        "https://demo.ongoingsystems.se.evil.com/demo/",
        "https://demo.ongoingsystems.se./demo/",
        "https://demo.ongoingsystems.se:8443/demo/",
        "https://demo.ongoingsystems.se:443/demo/",
        "https://user:pw@demo.ongoingsystems.se/demo/",
        "https://demo.ongoingsystems.se@evil.com/demo/",
        "https://evil.com\\@demo.ongoingsystems.se/demo/",
        "https://evil.com#@demo.ongoingsystems.se/demo/",
        "https://127.0.0.1/demo/",
        "https://[::1]/demo/",
        "https://169.254.169.254/latest/",
        "https://2130706433/demo/",
        "http://localhost/demo/",
        "http://localhost:8000/admin/",
        "http://localhost:8000/sandbox/fortnox/demo/",  # the sandbox host, another path
        "https://localhost:8000/sandbox/ongoing/demolager/",  # the sandbox path, another scheme
        "ftp://demo.ongoingsystems.se/demo/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "https://demo.ongoingsystems.se/",  # no warehouse
        "https://demo.ongoingsystems.se/../etc/",
        "https://demo.ongoingsystems.se/%2e%2e/",
        "https://demo.ongoingsystems.se/de mo/",
        "https://dеmo.ongoingsystems.se/demo/",  # Cyrillic е  # noqa: RUF001, RUF003
        "https://demo.ongoingsystems.se\n.evil.com/demo/",
    ],
)
def test_anything_else_is_refused_before_any_request(db, system):
    with pytest.raises(SystemRefused):
        system_parse(system=system)


def test_the_sandbox_address_reaches_the_sandbox_only():
    parsed = system_parse(system="http://localhost:8000/sandbox/ongoing/demolager/")
    assert parsed.warehouse == "demolager"
    assert parsed.api_base_urls == ("http://localhost:8000/sandbox/ongoing/demolager/api/v1/",)
    typed_without_scheme = system_parse(system="localhost:8000/sandbox/ongoing/demolager")
    assert typed_without_scheme.api_base_urls == parsed.api_base_urls


def test_a_sandbox_customer_id_reaches_its_warehouse(db):
    Warehouse.objects.create(name="demolager", display_name="Demo Lager", customer_id="4711")
    parsed = system_parse(system="4711")
    assert parsed.api_base_urls == (sandbox_api_base_url("demolager"),)


def test_with_the_sandbox_disabled_its_address_and_ids_are_refused(db, settings):
    Warehouse.objects.create(name="demolager", display_name="Demo Lager", customer_id="4711")
    settings.SANDBOX_ENABLED = False
    for system in ("http://localhost:8000/sandbox/ongoing/demolager/", "4711"):
        with pytest.raises(SystemRefused):
            system_parse(system=system)
    assert not api_base_url_allowed("http://localhost:8000/sandbox/ongoing/demolager/api/v1/")


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("demo.ongoingsystems.se", True),
        ("a-b.c.ongoingsystems.se", True),
        ("ongoingsystems.se", False),
        (".ongoingsystems.se", False),
        ("evilongoingsystems.se", False),
        ("ongoingsystems.se.evil.com", False),
        ("-x.ongoingsystems.se", False),
        ("x..ongoingsystems.se", False),
        ("x_y.ongoingsystems.se", False),
    ],
)
def test_host_allowlist(host, allowed):
    assert ongoing_host_allowed(host) is allowed


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.ongoingsystems.se/demo/api/v1/", True),
        ("https://wms1.ongoingsystems.se/demo/api/v1/", True),
        ("http://localhost:8000/sandbox/ongoing/demolager/api/v1/", True),
        ("https://demo.ongoingsystems.se/demo/api/v1/", False),
        ("https://api.ongoingsystems.se/demo/api/v2/", False),
        ("https://api.ongoingsystems.se/demo/api/v1/?x=1", False),
        ("https://api.ongoingsystems.se/a/b/api/v1/", False),
        ("https://api.ongoingsystems.se:443/demo/api/v1/", False),
        ("http://localhost:8000/sandbox/ongoing/demolager/operator/", False),
        ("http://localhost:8000/sandbox/ongoing/../../admin/api/v1/", False),
        ("http://localhost:8001/sandbox/ongoing/demolager/api/v1/", False),
        ("http://x@localhost:8000/sandbox/ongoing/demolager/api/v1/", False),
    ],
)
def test_api_base_url_allowlist(url, allowed):
    assert api_base_url_allowed(url) is allowed
