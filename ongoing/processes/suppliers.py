"""Supplier registry, Fortnox → our copy: Ongoing has no supplier endpoint, so suppliers reach the
warehouse inside articles (the articles process sends again the articles of a changed supplier)."""

from django.utils import timezone

from integrations.models import Supplier
from integrations.selectors import suppliers_by_number
from integrations.services.sync import ProcessContext

from .common import fortnox_client_for, pull_since

OBJECT_TYPE = "supplier"


def suppliers_sync(context: ProcessContext) -> None:
    integration = context.integration
    fortnox = fortnox_client_for(integration=integration)
    started = timezone.now()
    known = None  # read when the first supplier is listed: a quiet run asks nothing
    for item in fortnox.suppliers_list(lastmodified=pull_since(context)):
        if known is None:
            known = suppliers_by_number(integration=integration)
        number = str(item["SupplierNumber"])
        existing = known.get(number)
        if existing is not None and existing.data == item:
            context.synced(object_type=OBJECT_TYPE, object_ref=number, outcome="skipped")
            continue
        Supplier.objects.update_or_create(
            integration=integration,
            number=number,
            defaults={"name": item.get("Name") or "", "data": item},
        )
        context.synced(
            object_type=OBJECT_TYPE,
            object_ref=number,
            outcome="created" if existing is None else "updated",
        )
    context.save_cursor(started.isoformat())
