"""The classic stock balance, warehouse → Fortnox, at the end of each run: each stock article's
sellable quantity in the warehouse is written to its QuantityInStock in Fortnox, only where the two
differ. Writing the same absolute quantity twice is harmless, so a retried run needs no record.

Never with the warehouse module: the engine refuses the pair by the registry's rule, and a company
whose Fortnox has Fortnox Lager activated is refused here, since the module only accepts stock
transactions."""

from fortnox.client import FortnoxClient
from integrations.errors import SyncError
from integrations.models import SyncFailure
from integrations.processes import STOCK_BALANCE
from integrations.selectors import open_failures
from integrations.services.sync import ProcessContext
from ongoing.mappers import stock_balance_changes

from .common import OutageBreaker, fortnox_client_for, object_failed, ongoing_client_for
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


def stock_balance_sync(context: ProcessContext) -> None:
    integration = context.integration
    wms = ongoing_client_for(integration=integration)
    fortnox = fortnox_client_for(integration=integration)
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
    if not changes:
        return
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
