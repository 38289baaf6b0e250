"""The warehouse operator's pages: a person plays the warehouse staff (pick and send an order,
receive a purchase order, register a return, adjust the stock). Plain HTML forms; every action is
a service call, the same ones `manage.py sandbox_warehouse` makes."""

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from ongoing.statuses import PurchaseOrderStatus

from . import selectors, services
from .models import Article, GoodsOwner, Warehouse


class AdjustForm(forms.Form):
    article = forms.ModelChoiceField(label=gettext_lazy("Article"), queryset=Article.objects.none())
    number_of_items = forms.DecimalField(
        label=gettext_lazy("Change (+ found, - lost)"), max_digits=14, decimal_places=3
    )
    comment = forms.CharField(label=gettext_lazy("Comment"), max_length=500, required=False)

    def __init__(self, *args, warehouse: Warehouse, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["article"].queryset = Article.objects.filter(
            goods_owner__warehouse=warehouse
        ).order_by("article_number")


def _quantities(request: HttpRequest, lines) -> dict[str, Decimal]:
    """Row number → the quantity typed in the line's input (qty-<line id>); blank is nothing."""
    quantities = {}
    for line in lines:
        raw = request.POST.get(f"qty-{line.pk}", "").strip().replace(",", ".")
        try:
            quantities[line.row_number] = Decimal(raw) if raw else Decimal(0)
        except InvalidOperation:
            raise services.SandboxRefusal(
                _("Row %(row)s: %(value)s is not a number.")
                % {"row": line.row_number, "value": raw}
            ) from None
    return quantities


def _act(request: HttpRequest, action, success: str) -> None:
    try:
        action()
    except services.SandboxRefusal as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, success)


def warehouse_home(request: HttpRequest, warehouse: str) -> HttpResponse:
    found = get_object_or_404(Warehouse, name=warehouse)
    return render(
        request,
        "ongoing_sandbox/home.html",
        {
            "warehouse": found,
            "goods_owners": selectors.warehouse_overview(warehouse=found),
            "adjust_form": AdjustForm(warehouse=found),
        },
    )


@require_http_methods(["GET", "POST"])
def order_detail(request: HttpRequest, warehouse: str, order_id: int) -> HttpResponse:
    order = get_object_or_404(
        selectors.orders_with_lines(), pk=order_id, goods_owner__warehouse__name=warehouse
    )
    if request.method == "POST":
        action = request.POST.get("action")
        lines = list(order.lines.all())
        if action == "start":
            _act(
                request,
                lambda: services.order_start_picking(order=order),
                _("The order was released for picking."),
            )
        elif action == "pick":
            _act(
                request,
                lambda: services.order_pick(order=order, quantities=_quantities(request, lines)),
                _("Picked."),
            )
        elif action == "send":
            _act(request, lambda: services.order_send(order=order), _("The order was sent."))
        elif action == "collect":
            _act(request, lambda: services.order_collect(order=order), _("Collected."))
        elif action == "return":
            _act(
                request,
                lambda: services.return_register(
                    order=order,
                    quantities=_quantities(request, lines),
                    cause=request.POST.get("cause", "")[:200],
                ),
                _("The return was registered."),
            )
        else:
            messages.error(request, _("Unknown action."))
        return redirect("ongoing_sandbox:order", warehouse=warehouse, order_id=order.pk)
    return render(
        request,
        "ongoing_sandbox/order.html",
        {"warehouse": order.goods_owner.warehouse, "order": order},
    )


@require_http_methods(["GET", "POST"])
def purchase_order_detail(
    request: HttpRequest, warehouse: str, purchase_order_id: int
) -> HttpResponse:
    purchase_order = get_object_or_404(
        selectors.purchase_orders_with_lines(),
        pk=purchase_order_id,
        goods_owner__warehouse__name=warehouse,
    )
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "receive":
            lines = list(purchase_order.lines.all())
            _act(
                request,
                lambda: services.purchase_order_receive(
                    purchase_order=purchase_order, quantities=_quantities(request, lines)
                ),
                _("Received."),
            )
        elif action in ("deflection", "received"):
            status = (
                PurchaseOrderStatus.DEFLECTION
                if action == "deflection"
                else PurchaseOrderStatus.RECEIVED
            )
            _act(
                request,
                lambda: services.purchase_order_close(purchase_order=purchase_order, status=status),
                _("The purchase order was closed."),
            )
        else:
            messages.error(request, _("Unknown action."))
        return redirect(
            "ongoing_sandbox:purchase_order",
            warehouse=warehouse,
            purchase_order_id=purchase_order.pk,
        )
    return render(
        request,
        "ongoing_sandbox/purchase_order.html",
        {"warehouse": purchase_order.goods_owner.warehouse, "purchase_order": purchase_order},
    )


@require_POST
def inventory_adjust(request: HttpRequest, warehouse: str) -> HttpResponse:
    found = get_object_or_404(Warehouse, name=warehouse)
    form = AdjustForm(request.POST, warehouse=found)
    if form.is_valid():
        _act(
            request,
            lambda: services.inventory_adjust(
                article=form.cleaned_data["article"],
                number_of_items=form.cleaned_data["number_of_items"],
                comment=form.cleaned_data["comment"],
            ),
            _("The inventory was adjusted."),
        )
    else:
        messages.error(request, _("Choose an article and type a change such as 5 or -2."))
    return redirect("ongoing_sandbox:home", warehouse=warehouse)


@require_POST
def goods_owner_webhook(request: HttpRequest, warehouse: str, goods_owner_id: int) -> HttpResponse:
    goods_owner = get_object_or_404(GoodsOwner, pk=goods_owner_id, warehouse__name=warehouse)
    _act(
        request,
        lambda: services.goods_owner_webhook_set(
            goods_owner=goods_owner,
            url=request.POST.get("webhook_url", ""),
            token=request.POST.get("webhook_token", ""),
        ),
        _("The webhook settings were saved."),
    )
    return redirect("ongoing_sandbox:home", warehouse=warehouse)
