"""Supplier registry, Fortnox → our copy: Ongoing has no supplier endpoint, so suppliers reach the
warehouse inside articles (the articles process sends again the articles of a changed supplier)."""

from django.utils import timezone

from integrations.models import Supplier
from integrations.selectors import suppliers_by_number
from integrations.services.sync import ProcessContext
from integrations.text import printable, storable

from .common import CURSOR_OVERLAP, fortnox_client_for, pull_since

OBJECT_TYPE = "supplier"
# How far back a targeted supplier sync lists: events arrive within seconds of the change.
EVENT_WINDOW = CURSOR_OVERLAP


def _keep(context: ProcessContext, listed, *, only: set[str] | None = None) -> None:
    integration = context.integration
    known = None  # read when the first supplier is listed: a quiet run asks nothing
    for item in listed:
        if known is None:
            known = suppliers_by_number(integration=integration)
        number = str(item["SupplierNumber"])
        if only is not None and number not in only:
            continue
        item = storable(item)
        existing = known.get(number)
        if existing is not None and existing.data == item:
            context.synced(object_type=OBJECT_TYPE, object_ref=number, outcome="skipped")
            continue
        Supplier.objects.update_or_create(
            integration=integration,
            number=number,
            defaults={"name": printable(str(item.get("Name") or ""), max_length=200), "data": item},
        )
        context.synced(
            object_type=OBJECT_TYPE,
            object_ref=number,
            outcome="created" if existing is None else "updated",
        )


def suppliers_sync(context: ProcessContext) -> None:
    fortnox = fortnox_client_for(integration=context.integration)
    started = timezone.now()
    _keep(context, fortnox.suppliers_list(lastmodified=pull_since(context)))
    context.save_cursor(started.isoformat())


def suppliers_sync_objects(context: ProcessContext, refs: list[str]) -> None:
    """The suppliers an event named. Our copy keeps suppliers as Fortnox lists them (a subset of
    the fields), so they are read from the list of the last minutes, not one by one: a supplier
    stored from its full record would differ from the listed one at the next scheduled pull and
    send its articles again for nothing. A supplier not in that window (an old event replayed)
    is left to the scheduled pull, whose cursor has not passed it."""
    fortnox = fortnox_client_for(integration=context.integration)
    since = timezone.now() - EVENT_WINDOW
    _keep(context, fortnox.suppliers_list(lastmodified=since), only=set(refs))
