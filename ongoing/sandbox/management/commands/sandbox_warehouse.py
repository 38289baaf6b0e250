"""Play the sandbox warehouse from a script, as the operator page does from a browser:

manage.py sandbox_warehouse pick 1001            # pick everything still to pick
manage.py sandbox_warehouse pick 1001 1=2 2=0    # row 1: two items, row 2: none
manage.py sandbox_warehouse send 1001
manage.py sandbox_warehouse receive PO7 1=5
manage.py sandbox_warehouse close PO7 received
manage.py sandbox_warehouse return 1001 1=1 --cause Broken
manage.py sandbox_warehouse adjust A100 -2 --comment "Dropped on the floor"
manage.py sandbox_warehouse webhook https://…/hooks/ongoing/<token>/ <secret>   # "" switches off
"""

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ongoing.sandbox import services
from ongoing.sandbox.models import Article, GoodsOwner, Order, PurchaseOrder, Warehouse
from ongoing.sandbox.seed import WAREHOUSE_NAME
from ongoing.statuses import PurchaseOrderStatus


def _quantities(pairs: list[str]) -> dict[str, Decimal] | None:
    if not pairs:
        return None
    quantities = {}
    for pair in pairs:
        row, sep, value = pair.partition("=")
        try:
            quantities[row] = Decimal(value)
        except InvalidOperation:
            raise CommandError(
                f"Write quantities as ROW=QUANTITY, e.g. 1=2 (got {pair!r})."
            ) from None
        if not sep or not row:
            raise CommandError(f"Write quantities as ROW=QUANTITY, e.g. 1=2 (got {pair!r}).")
    return quantities


class Command(BaseCommand):
    help = "Act as the sandbox warehouse's staff: pick, send, receive, return, adjust, …"

    def add_arguments(self, parser):
        parser.add_argument("--warehouse", default=WAREHOUSE_NAME, help="Warehouse name in URLs.")
        parser.add_argument(
            "--goods-owner", type=int, help="Goods owner id, when there are several."
        )
        actions = parser.add_subparsers(dest="action", required=True)
        for name, help_text in (
            ("start", "Release an order for picking (updates are refused from now on)."),
            ("send", "Send a picked order (status 450 Sent)."),
            ("collect", "Mark a sent order collected (status 500)."),
        ):
            actions.add_parser(name, help=help_text).add_argument("order_number")
        for name, help_text in (
            ("pick", "Pick an order; ROW=QTY pairs for a partial pick."),
            ("return", "Register a return on a sent order; ROW=QTY pairs for part of it."),
        ):
            action = actions.add_parser(name, help=help_text)
            action.add_argument("order_number")
            action.add_argument("quantities", nargs="*", metavar="ROW=QTY")
            if name == "return":
                action.add_argument("--cause", default="")
        receive = actions.add_parser("receive", help="Receive goods; ROW=QTY pairs for part of it.")
        receive.add_argument("purchase_order_number")
        receive.add_argument("quantities", nargs="*", metavar="ROW=QTY")
        close = actions.add_parser(
            "close", help="Close a purchase order as deflection or received."
        )
        close.add_argument("purchase_order_number")
        close.add_argument("status", choices=["deflection", "received"])
        adjust = actions.add_parser("adjust", help="Adjust an article's stock by +N or -N.")
        adjust.add_argument("article_number")
        adjust.add_argument("change")
        adjust.add_argument("--comment", default="")
        webhook = actions.add_parser(
            "webhook", help="Post order status changes and inbound transactions to URL."
        )
        webhook.add_argument("url")
        webhook.add_argument("token", nargs="?", default="")

    def handle(self, *args, **options):
        if not settings.SANDBOX_ENABLED:
            raise CommandError("sandbox_warehouse only runs with SANDBOX_ENABLED.")
        warehouse = Warehouse.objects.filter(name=options["warehouse"]).first()
        if warehouse is None:
            raise CommandError(f"No sandbox warehouse {options['warehouse']!r} (run sandbox_seed).")
        scope = {"goods_owner__warehouse": warehouse}
        if options["goods_owner"]:
            scope["goods_owner_id"] = options["goods_owner"]
        action = options["action"]
        try:
            message = self._act(action, scope, options)
        except services.SandboxRefusal as refusal:
            raise CommandError(refusal.message) from None
        self.stdout.write(self.style.SUCCESS(message))

    def _act(self, action: str, scope: dict, options: dict) -> str:
        if action == "webhook":
            owners = GoodsOwner.objects.filter(
                warehouse=scope["goods_owner__warehouse"],
                **({"pk": scope["goods_owner_id"]} if "goods_owner_id" in scope else {}),
            )
            if owners.count() != 1:
                raise CommandError("Give --goods-owner: the warehouse has several.")
            owner = services.goods_owner_webhook_set(
                goods_owner=owners.get(), url=options["url"], token=options["token"]
            )
            return f"Webhooks of {owner}: {owner.webhook_url or 'off'}."
        if action == "adjust":
            article = self._one(Article, scope, article_number=options["article_number"])
            try:
                change = Decimal(options["change"])
            except InvalidOperation:
                raise CommandError("The change is a number such as 5 or -2.") from None
            adjustment = services.inventory_adjust(
                article=article, number_of_items=change, comment=options["comment"]
            )
            article.refresh_from_db()
            return (
                f"Article {article.article_number}: {adjustment.number_of_items:+} "
                f"(inventory {adjustment.pk}), {article.number_of_items.normalize()} in stock."
            )
        if action in ("receive", "close"):
            purchase_order = self._one(
                PurchaseOrder, scope, purchase_order_number=options["purchase_order_number"]
            )
            if action == "receive":
                purchase_order = services.purchase_order_receive(
                    purchase_order=purchase_order, quantities=_quantities(options["quantities"])
                )
            else:
                status = PurchaseOrderStatus[options["status"].upper()]
                purchase_order = services.purchase_order_close(
                    purchase_order=purchase_order, status=status
                )
            return f"Purchase order {purchase_order}: {purchase_order.status_text}."
        order = self._one(Order, scope, order_number=options["order_number"])
        if action == "start":
            order = services.order_start_picking(order=order)
        elif action == "pick":
            order = services.order_pick(order=order, quantities=_quantities(options["quantities"]))
        elif action == "send":
            order = services.order_send(order=order)
        elif action == "collect":
            order = services.order_collect(order=order)
        else:
            return_order = services.return_register(
                order=order, quantities=_quantities(options["quantities"]), cause=options["cause"]
            )
            return f"Return {return_order} registered on order {order}."
        return f"Order {order}: {order.status} {order.status_text}."

    def _one(self, model, scope: dict, **lookup):
        found = list(model.objects.filter(**scope, **lookup)[:2])
        if not found:
            raise CommandError(f"No {model._meta.verbose_name} {next(iter(lookup.values()))!r}.")
        if len(found) > 1:
            raise CommandError("Several goods owners have that number: give --goods-owner.")
        return found[0]
