"""The classic stock balance, warehouse → Fortnox, at the end of each run: each stock article's
sellable quantity in the warehouse is written to its QuantityInStock in Fortnox, only where the two
differ. Writing the same absolute quantity twice is harmless, so a retried run needs no record.
A run skips the comparison while neither side changed since the last one (_unchanged_until).

Never with the warehouse module: the engine refuses the pair by the registry's rule, and a company
whose Fortnox has Fortnox Lager activated is refused here, since the module only accepts stock
transactions."""

from datetime import datetime

from django.utils import timezone

from fortnox.client import FortnoxClient
from integrations.errors import SyncError
from integrations.models import SyncFailure
from integrations.processes import STOCK_BALANCE
from integrations.selectors import open_failures
from integrations.services.sync import ProcessContext
from ongoing.client import OngoingClient
from ongoing.mappers import stock_balance_changes

from .common import (
    CURSOR_OVERLAP,
    FORTNOX_ARTICLES_CHANGED,
    FORTNOX_STOCK_TOUCHED,
    OutageBreaker,
    fortnox_client_for,
    full_pass_began,
    object_failed,
    ongoing_client_for,
    run_learned,
    warehouse_quiet,
)
from .fulfilment import warehouse_module_in_fortnox

OBJECT_TYPE = "stock"


class ClassicStockRefused(SyncError):
    failure_kind = SyncFailure.Kind.VALIDATION


def _refuse_with_module(fortnox: FortnoxClient) -> None:
    if warehouse_module_in_fortnox(fortnox):
        raise ClassicStockRefused(
            "Fortnox Lager (the warehouse module) is activated in Fortnox, and it only accepts "
            "stock transactions: the classic stock balance cannot be written. Switch off "
            "“Stock balance to Fortnox” and switch on “Fortnox warehouse module (Fortnox Lager)” "
            "in the integration's settings."
        )


def _unchanged_until(
    context: ProcessContext, wms: OngoingClient, fortnox: FortnoxClient
) -> datetime | None:
    """None when this run must compare; else the time up to which both sides are found as at the
    last comparison (the cursor's second half): no stock moved in the warehouse since that
    comparison began (warehouse_quiet, which also says when a full comparison is due), fulfilment
    reported no delivery to Fortnox in this run, no article's write failed before, and Fortnox
    lists no article changed since the last check.

    UNVERIFIED: that Fortnox's `lastmodified` shows an article whose QuantityInStock changed by
    hand or by an invoice made outside this integration. If not, the difference is written at the
    next comparison: after the next stock move in the warehouse, at the latest after
    ONGOING_FULL_PASS_HOURS."""
    if context.may_have_failures(OBJECT_TYPE) or not warehouse_quiet(context, wms):
        return None
    learned = run_learned(context)
    if learned.get(FORTNOX_STOCK_TOUCHED):
        return None
    checked = datetime.fromisoformat(context.cursor().split()[-1])
    pulled = learned.get(FORTNOX_ARTICLES_CHANGED)
    if pulled is not None and pulled[0] <= checked - CURSOR_OVERLAP:
        # The article pull of this run listed from as far back: its answer is this one's.
        return None if pulled[1] else pulled[2]
    started = timezone.now()
    changed = next(iter(fortnox.articles_list(lastmodified=checked - CURSOR_OVERLAP)), None)
    return None if changed is not None else started


def stock_balance_sync(context: ProcessContext) -> None:
    integration = context.integration
    wms = ongoing_client_for(integration=integration)
    fortnox = fortnox_client_for(integration=integration)
    started = timezone.now()
    checked = _unchanged_until(context, wms, fortnox)
    if checked is not None:
        # Nothing to compare. The comparison's time stays (the warehouse side and the next full
        # comparison are judged from it); the Fortnox side was checked up to `checked`.
        began = full_pass_began(context.cursor())
        context.save_cursor(f"{began.isoformat()} {checked.isoformat()}")
        return
    wms_articles = [article for page in wms.articles_list() for article in page.items]
    changes = stock_balance_changes(wms_articles, list(fortnox.articles_list()))
    context.count("skipped", len(wms_articles) - len(changes))
    # An article that failed before and now agrees needs no write: its failure is over.
    for failure in open_failures(integration=integration).filter(
        process=STOCK_BALANCE, object_type=OBJECT_TYPE
    ):
        if failure.object_ref not in changes:
            context.synced(
                object_type=OBJECT_TYPE, object_ref=failure.object_ref, outcome="skipped"
            )
    if changes:
        _refuse_with_module(fortnox)
    breaker = OutageBreaker()
    for number, quantity in changes.items():
        try:
            fortnox.article_stock_update(number, quantity)
        except SyncError as error:
            if not object_failed(
                context, breaker, error, object_type=OBJECT_TYPE, object_ref=number
            ):
                return
            continue
        breaker.succeeded()
        context.synced(object_type=OBJECT_TYPE, object_ref=number, outcome="updated")
    if not context.counts["failed"]:
        context.save_cursor(started.isoformat())
