import factory
from django.utils import timezone

from integrations.models import Integration, SyncFailure, SyncRun
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
