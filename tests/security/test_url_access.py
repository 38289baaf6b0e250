"""Every URL pattern of the root URLconf (walked, so a new one is covered or fails here until it is
classified in tests/security/urls.py), requested GET and POST by people who must not get in:
anonymous, a member of another company (with this company's object ids), a viewer of this
company (every write), a signed-in person who is not staff (the admin), and the API with another
company's key. Each is refused (sign-in redirect, 403, 404 or 405), never a server error, and
the company's data is exactly as before."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import resolve

from api.models import ApiKey
from api.services import api_key_create
from fortnox.models import FortnoxConnection
from integrations.models import (
    Integration,
    ProcessSetting,
    ReactivationLink,
    RecordLink,
    SyncFailure,
    SyncRun,
)
from ongoing.models import OngoingConnection
from tenants.models import Invitation, Membership, Tenant
from tenants.services import invitation_create, tenant_create
from tests.factories import (
    FortnoxConnectionFactory,
    OngoingConnectionFactory,
    SyncFailureFactory,
    SyncRunFactory,
    UserFactory,
)
from tests.security.urls import FAMILIES, patterns, url_for

pytestmark = pytest.mark.django_db

ALL = patterns()
REFUSED = {302, 401, 403, 404, 405}
# Whatever a form of ours could take: a view that forgot its permission check would act on it.
FORM = {
    "name": "Stulen",
    "email": "angripare@example.com",
    "role": "owner",
    "interval_minutes": "5",
    "problem_email": "angripare@example.com",
    "system": "https://demo.ongoingsystems.se/demo/",
    "username": "WSIangripare",
    "password": "angripare-pw",
    "organisation_number": "556000-0000",
    "language": "en",
}


class Company:
    """The company under attack, with one of everything a URL can name."""

    def __init__(self):
        self.owner = UserFactory()
        self.tenant = tenant_create(owner=self.owner, name="Offer AB")
        self.owner_membership = self.tenant.memberships.get()
        self.viewer = UserFactory()
        self.viewer_membership = Membership.objects.create(
            tenant=self.tenant, user=self.viewer, role=Membership.Role.VIEWER
        )
        self.integration = self.tenant.integrations.get()
        self.run = SyncRunFactory(integration=self.integration)
        self.failure = SyncFailureFactory(integration=self.integration, run=self.run)
        self.key, self.raw_key = api_key_create(tenant=self.tenant, name="verktyg")
        self.invitation, _token = invitation_create(
            tenant=self.tenant,
            email="ny@offer.se",
            role=Membership.Role.VIEWER,
            invited_by=self.owner_membership,
        )
        FortnoxConnectionFactory(tenant=self.tenant)
        OngoingConnectionFactory(tenant=self.tenant)

    def ids(self) -> dict:
        """Values for every URL parameter: this company's objects, forged tokens, and for the
        admin any object (the refusal comes before the lookup)."""
        return {
            "tenant_id": self.tenant.pk,
            "membership_id": self.owner_membership.pk,
            "invitation_id": self.invitation.pk,
            "key_id": self.key.pk,
            "run_id": self.run.pk,
            "failure_id": self.failure.pk,
            "pk": self.run.pk,
            "token": "forged-token",
            "key": "forged-key",
            "uidb36": "1",
            # the admin's
            "object_id": self.tenant.pk,
            "id": self.owner.pk,
            "integration_id": self.integration.pk,
            "content_type_id": 1,
            "app_label": "tenants",
            "url": "nowhere",
        }

    def snapshot(self) -> dict:
        """Everything of this company's that a request could change."""
        by_tenant = {
            Tenant: {"pk": self.tenant.pk},
            Membership: {"tenant": self.tenant},
            Invitation: {"tenant": self.tenant},
            Integration: {"tenant": self.tenant},
            ProcessSetting: {"integration__tenant": self.tenant},
            SyncRun: {"integration__tenant": self.tenant},
            SyncFailure: {"integration__tenant": self.tenant},
            RecordLink: {"integration__tenant": self.tenant},
            ReactivationLink: {"integration__tenant": self.tenant},
            ApiKey: {"tenant": self.tenant},
            FortnoxConnection: {"tenant": self.tenant},
            OngoingConnection: {"tenant": self.tenant},
        }
        return {
            model.__name__: sorted(
                (tuple(sorted(row.items())) for row in model.objects.filter(**where).values()),
                key=repr,
            )
            for model, where in by_tenant.items()
        }


@pytest.fixture
def company(db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    return Company()


@pytest.fixture
def attacker(db):
    """The owner of another company, with their own API key."""
    user = UserFactory()
    tenant = tenant_create(owner=user, name="Angripare AB")
    _key, raw = api_key_create(tenant=tenant, name="angripare")
    return user, raw


def signed_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def of(family: str):
    return [pattern for pattern in ALL if pattern.family == family]


def pattern_id(pattern) -> str:
    return pattern.route or "<root>"


def requests(client: Client, url: str):
    """GET, then POST with form data: the two ways in."""
    yield "GET", client.get(url)
    yield "POST", client.post(url, FORM)


def assert_refused(response, method, url, *, login_url=settings.LOGIN_URL):
    status = response.status_code
    assert status != 500, f"{method} {url}: server error"
    assert status in REFUSED, f"{method} {url}: {status}, not refused"
    if status == 302:
        location = response["Location"]
        assert location.startswith(("/accounts/login/", "/admin/login/", login_url)) or (
            # A refusal may send the person back to a page of their own.
            not location.startswith("http")
        ), f"{method} {url}: redirected to {location}"


def test_every_url_pattern_is_classified():
    unclassified = [pattern.route for pattern in ALL if pattern.family == "unclassified"]

    assert unclassified == [], "classify these in tests/security/urls.py"
    assert len(ALL) > 300
    assert {pattern.family for pattern in ALL} == {
        "public",
        "signed_in",
        "member",
        *FAMILIES.values(),
    }


@pytest.mark.parametrize(
    "pattern", [p for p in ALL if p.family not in ("sandbox",)], ids=pattern_id
)
def test_every_url_resolves_to_its_own_view(company, pattern):
    url = url_for(pattern, company.ids())

    assert resolve(url).func == pattern.callback, url


@pytest.mark.parametrize("pattern", of("member") + of("signed_in"), ids=pattern_id)
def test_anonymous_is_sent_to_sign_in(company, pattern):
    url = url_for(pattern, company.ids())
    before = company.snapshot()

    for method, response in requests(Client(raise_request_exception=False), url):
        assert response.status_code == 302, f"{method} {url}: {response.status_code}"
        assert response["Location"].startswith("/accounts/login/"), response["Location"]

    assert company.snapshot() == before


@pytest.mark.parametrize("pattern", of("member") + of("signed_in"), ids=pattern_id)
def test_another_companys_member_cannot_reach_this_companys_objects(company, attacker, pattern):
    """With this company's ids in the URL, the other company's owner gets a refusal where an id
    names an object, and never changes anything of this company's."""
    url = url_for(pattern, company.ids())
    client = signed_in(attacker[0])
    before = company.snapshot()

    for method, response in requests(client, url):
        assert response.status_code != 500, f"{method} {url}: server error"
        if pattern.params:
            assert_refused(response, method, url)

    assert company.snapshot() == before


@pytest.mark.parametrize("pattern", of("member"), ids=pattern_id)
def test_a_viewer_can_change_nothing(company, pattern):
    url = url_for(pattern, company.ids())
    client = signed_in(company.viewer)
    before = company.snapshot()

    get = client.get(url)
    post = client.post(url, FORM)

    assert get.status_code in {200, 403, 405}, f"GET {url}: {get.status_code}"
    assert_refused(post, "POST", url)
    assert company.snapshot() == before


@pytest.mark.parametrize("pattern", of("admin"), ids=pattern_id)
def test_the_admin_refuses_people_who_are_not_staff(company, pattern):
    url = url_for(pattern, company.ids())
    before = company.snapshot()

    for who in (None, company.owner):
        client = signed_in(who) if who else Client(raise_request_exception=False)
        for method, response in requests(client, url):
            if pattern.route == "admin/login/":
                assert response.status_code in (200, 302), f"{method} {url}"
                continue
            assert_refused(response, method, url)
            if response.status_code == 302:
                assert response["Location"].startswith("/admin/login/"), response["Location"]

    assert company.snapshot() == before


@pytest.mark.parametrize("pattern", [p for p in of("api") if p.route not in (
    "api/v1/schema/", "api/v1/docs/")], ids=pattern_id)  # fmt: skip
def test_the_api_refuses_no_key_and_another_companys_key(company, attacker, pattern):
    url = url_for(pattern, company.ids())
    before = company.snapshot()

    anonymous = Client(raise_request_exception=False)
    for method, response in requests(anonymous, url):
        assert response.status_code in (401, 403), f"{method} {url}: {response.status_code}"

    other = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {attacker[1]}")
    for method, response in (
        ("GET", other.get(url)),
        ("POST", other.post(url, {}, content_type="application/json")),
    ):
        assert response.status_code != 500, f"{method} {url}: server error"
        if pattern.params:
            assert response.status_code in (404, 405), f"{method} {url}: {response.status_code}"

    assert company.snapshot() == before


@pytest.mark.parametrize("pattern", of("public"), ids=pattern_id)
def test_public_urls_answer_without_server_errors_and_change_nothing(company, pattern):
    url = url_for(pattern, company.ids())
    before = company.snapshot()

    for method, response in requests(Client(raise_request_exception=False), url):
        assert response.status_code < 500, f"{method} {url}: {response.status_code}"

    assert company.snapshot() == before
