from datetime import timedelta

import factory
from django.utils import timezone

from fortnox.models import FortnoxConnection
from integrations.models import Integration, SyncFailure, SyncRun
from ongoing.models import OngoingConnection
from tenants.models import Membership, Tenant, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    password = factory.django.Password("correct-horse-battery")


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Företag {n} AB")
    organisation_number = factory.Sequence(lambda n: f"556{n:03d}-{n:04d}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = Membership.Role.OWNER


class IntegrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Integration

    tenant = factory.SubFactory(TenantFactory)
    status = Integration.Status.ACTIVE
    next_run_at = factory.LazyFunction(timezone.now)


class SyncRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SyncRun

    integration = factory.SubFactory(IntegrationFactory)
    trigger = SyncRun.Trigger.BEAT
    status = SyncRun.Status.SUCCEEDED


class SyncFailureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SyncFailure

    integration = factory.SubFactory(IntegrationFactory)
    run = factory.SubFactory(SyncRunFactory, integration=factory.SelfAttribute("..integration"))
    process = "articles"
    object_type = "article"
    object_ref = factory.Sequence(lambda n: f"A{n}")
    kind = SyncFailure.Kind.REMOTE
    message = "Fortnox answered 500"
    last_seen_at = factory.LazyFunction(timezone.now)


class FortnoxConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FortnoxConnection

    tenant = factory.SubFactory(TenantFactory)
    fortnox_tenant_id = factory.Sequence(lambda n: 3_000_000 + n)
    company_name = factory.SelfAttribute("tenant.name")
    access_token = "access-token"
    refresh_token = "refresh-token"
    access_expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))
    connected_at = factory.LazyFunction(timezone.now)


class OngoingConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OngoingConnection

    tenant = factory.SubFactory(TenantFactory)
    system = "https://demo.ongoingsystems.se/demo/"
    warehouse = "demo"
    api_base_url = "https://api.ongoingsystems.se/demo/api/v1/"
    goods_owner_id = 159
    goods_owner_name = factory.SelfAttribute("tenant.name")
    username = "WSIDemo"
    password = "warehouse-password"
    verified_at = factory.LazyFunction(timezone.now)
