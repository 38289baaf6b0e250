from tenants.models import Tenant

from .models import OngoingConnection


def ongoing_connection_for_tenant(*, tenant: Tenant) -> OngoingConnection | None:
    return OngoingConnection.objects.filter(tenant=tenant).first()
