"""Pages where a person plays the Fortnox user: articles, customers and orders to create and edit,
orders to confirm, invoice or cancel, invoices and back orders to look at, and the company's
warehouse-module switch and fault profile."""

from functools import wraps

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from . import store
from .auth import requests_max_in_window
from .forms import (
    ArticleForm,
    CompanySettingsForm,
    CustomerForm,
    OrderForm,
    OrderRowFormSet,
)
from .models import SandboxApiRequest, SandboxRecord
from .store import ApiError, record_find
from .views import signed_in_user

Kind = SandboxRecord.Kind


def sandbox_login_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = signed_in_user(request)
        if user is None:
            login = reverse("fortnox_sandbox:login")
            return redirect(f"{login}?{urlencode({'next': request.get_full_path()})}")
        request.sandbox_user = user
        request.sandbox_company = user.company
        return view(request, *args, **kwargs)

    return wrapper


def _records(request, kind: str):
    return SandboxRecord.objects.filter(company=request.sandbox_company, kind=kind)


def _numeric_key(record: SandboxRecord):
    return (0, int(record.key), "") if record.key.isdigit() else (1, 0, record.key)


def _table(request, *, title: str, columns, rows, new_url: str = "", tabs=None):
    return render(
        request,
        "fortnox_sandbox/list.html",
        {"title": title, "columns": columns, "rows": rows, "new_url": new_url, "tabs": tabs or []},
    )


def _plain(cleaned: dict) -> dict:
    """Form values as JSON-able Fortnox fields."""
    plain = {}
    for name, value in cleaned.items():
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        elif value is None:
            continue
        plain[name] = value
    return plain


@sandbox_login_required
def home_view(request):
    company = request.sandbox_company
    form = CompanySettingsForm(request.POST or None, instance=company)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Inställningarna är sparade.")
        return redirect("fortnox_sandbox:index")
    counts = {
        label: _records(request, kind).count()
        for kind, label in (
            (Kind.ARTICLE, "Artiklar"),
            (Kind.SUPPLIER, "Leverantörer"),
            (Kind.CUSTOMER, "Kunder"),
            (Kind.ORDER, "Order"),
            (Kind.INVOICE, "Fakturor"),
        )
    }
    return render(
        request,
        "fortnox_sandbox/home.html",
        {
            "company": company,
            "form": form,
            "counts": counts,
            "requests": SandboxApiRequest.objects.filter(company=company).count(),
            "limited": SandboxApiRequest.objects.filter(company=company, limited=True).count(),
            "busiest_window": requests_max_in_window(company=company),
        },
    )


@sandbox_login_required
def article_list_view(request):
    rows = [
        (
            reverse("fortnox_sandbox:article", args=[record.key]),
            [
                record.key,
                record.data.get("Description"),
                "Ja" if record.data.get("StockGoods") else "Nej",
                record.data.get("QuantityInStock"),
                record.data.get("EAN"),
                record.data.get("SupplierName"),
            ],
        )
        for record in sorted(_records(request, Kind.ARTICLE), key=_numeric_key)
    ]
    return _table(
        request,
        title="Artiklar",
        columns=["Artikelnr", "Benämning", "Lagervara", "Saldo", "EAN", "Leverantör"],
        rows=rows,
        new_url=reverse("fortnox_sandbox:article_new"),
    )


def _edit(request, *, form, title: str, save, done_url: str, extra=None):
    """Shared by the article and customer pages: validate, save through the store, show
    Fortnox's refusal on the form."""
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                save(_plain(form.cleaned_data))
        except ApiError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Sparat.")
            return redirect(done_url)
    return render(
        request, "fortnox_sandbox/form.html", {"title": title, "form": form, **(extra or {})}
    )


@sandbox_login_required
def article_edit_view(request, key: str | None = None):
    company = request.sandbox_company
    record = record_find(company, Kind.ARTICLE, key) if key else None
    form = ArticleForm(
        request.POST or None,
        initial=record.data if record else {"Active": True, "Unit": "st"},
        company=company,
        editing=record is not None,
    )
    return _edit(
        request,
        form=form,
        title=f"Artikel {key}" if record else "Ny artikel",
        save=lambda fields: store.article_write(
            company, fields, key=record.key if record else None, person=True
        ),
        done_url=reverse("fortnox_sandbox:articles"),
    )


@sandbox_login_required
def customer_list_view(request):
    rows = [
        (
            reverse("fortnox_sandbox:customer", args=[record.key]),
            [
                record.key,
                record.data.get("Name"),
                "Företag" if record.data.get("Type") == "COMPANY" else "Privat",
                record.data.get("City"),
                record.data.get("Email"),
            ],
        )
        for record in sorted(_records(request, Kind.CUSTOMER), key=_numeric_key)
    ]
    return _table(
        request,
        title="Kunder",
        columns=["Kundnr", "Namn", "Typ", "Ort", "E-post"],
        rows=rows,
        new_url=reverse("fortnox_sandbox:customer_new"),
    )


@sandbox_login_required
def customer_edit_view(request, key: str | None = None):
    company = request.sandbox_company
    record = record_find(company, Kind.CUSTOMER, key) if key else None
    form = CustomerForm(
        request.POST or None,
        initial=record.data if record else {"Active": True, "CountryCode": "SE"},
        editing=record is not None,
    )
    return _edit(
        request,
        form=form,
        title=f"Kund {key}" if record else "Ny kund",
        save=lambda fields: store.customer_write(
            company, fields, key=record.key if record else None
        ),
        done_url=reverse("fortnox_sandbox:customers"),
    )


def _order_state(order: dict) -> str:
    if order.get("Cancelled"):
        return "Makulerad"
    if order.get("InvoiceReference"):
        return f"Fakturerad ({order['InvoiceReference']})"
    if order.get("Sent"):
        return "Skickad"
    return "Ny"


ORDER_TABS = {
    "": ("Alla", lambda order: True),
    "open": ("Ej fakturerade", store.open_order),
    "invoiced": ("Fakturerade", lambda order: bool(order.get("InvoiceReference"))),
    "cancelled": ("Makulerade", lambda order: bool(order.get("Cancelled"))),
    "backorders": ("Restorder", lambda order: order.get("OrderType") == "Backorder"),
}


@sandbox_login_required
def order_list_view(request):
    tab = request.GET.get("tab", "")
    _label, test = ORDER_TABS.get(tab, ORDER_TABS[""])
    rows = [
        (
            reverse("fortnox_sandbox:order", args=[record.key]),
            [
                record.key,
                "Restorder" if record.data.get("OrderType") == "Backorder" else "Order",
                record.data.get("CustomerName"),
                record.data.get("OrderDate"),
                record.data.get("DeliveryDate"),
                _order_state(record.data),
                record.data.get("Total"),
            ],
        )
        for record in sorted(_records(request, Kind.ORDER), key=_numeric_key, reverse=True)
        if test(record.data)
    ]
    base = reverse("fortnox_sandbox:orders")
    tabs = [
        (f"{base}?tab={key}" if key else base, label, key == tab)
        for key, (label, _test) in ORDER_TABS.items()
    ]
    return _table(
        request,
        title="Order",
        columns=["Ordernr", "Typ", "Kund", "Orderdatum", "Leveransdatum", "Status", "Totalt"],
        rows=rows,
        new_url=reverse("fortnox_sandbox:order_new"),
        tabs=tabs,
    )


def _order_rows(formset) -> list[dict]:
    rows = []
    for row_form in formset:
        row = row_form.cleaned_data
        if not row or row.get("remove"):
            continue
        sent = _plain({key: value for key, value in row.items() if key != "remove"})
        if not sent.get("RowId"):
            sent.pop("RowId", None)
            if not sent.get("ArticleNumber"):
                continue
        rows.append(sent)
    return rows


ORDER_ACTIONS = {
    "send": (store.order_mark_sent, "Orderbekräftelsen är skickad."),
    "invoice": (store.order_invoice_create, "Fakturan är skapad."),
    "cancel": (store.order_cancel, "Ordern är makulerad."),
}


@sandbox_login_required
def order_edit_view(request, key: str | None = None):
    company = request.sandbox_company
    record = record_find(company, Kind.ORDER, key) if key else None
    order = record.data if record else {}
    action = request.POST.get("action", "save")
    if record and request.method == "POST" and action in ORDER_ACTIONS:
        act, done = ORDER_ACTIONS[action]
        try:
            with transaction.atomic():
                act(company, record.key)
        except ApiError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, done)
        return redirect("fortnox_sandbox:order", key=record.key)

    form = OrderForm(request.POST or None, initial=order, company=company)
    formset = OrderRowFormSet(
        request.POST or None,
        initial=[
            {
                "RowId": row.get("RowId"),
                "ArticleNumber": row.get("ArticleNumber"),
                "OrderedQuantity": row.get("OrderedQuantity"),
                "DeliveredQuantity": row.get("DeliveredQuantity"),
            }
            for row in order.get("OrderRows") or []
        ],
    )
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        fields = {**_plain(form.cleaned_data), "OrderRows": _order_rows(formset)}
        try:
            with transaction.atomic():
                saved = store.order_write(company, fields, key=record.key if record else None)
        except ApiError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Ordern är sparad.")
            return redirect("fortnox_sandbox:order", key=saved["DocumentNumber"])
    return render(
        request,
        "fortnox_sandbox/order.html",
        {
            "title": f"Order {key}" if record else "Ny order",
            "order": order,
            "state": _order_state(order) if record else "",
            "locked": bool(order.get("Cancelled") or order.get("InvoiceReference")),
            "form": form,
            "formset": formset,
        },
    )


@sandbox_login_required
def invoice_list_view(request):
    rows = [
        (
            reverse("fortnox_sandbox:invoice", args=[record.key]),
            [
                record.key,
                record.data.get("OrderReference"),
                record.data.get("CustomerName"),
                record.data.get("InvoiceDate"),
                record.data.get("DueDate"),
                record.data.get("Total"),
            ],
        )
        for record in sorted(_records(request, Kind.INVOICE), key=_numeric_key, reverse=True)
    ]
    return _table(
        request,
        title="Fakturor",
        columns=["Fakturanr", "Order", "Kund", "Fakturadatum", "Förfallodatum", "Totalt"],
        rows=rows,
    )


@sandbox_login_required
def invoice_detail_view(request, key: str):
    record = record_find(request.sandbox_company, Kind.INVOICE, key)
    if record is None:
        messages.error(request, f"Faktura {key} finns inte.")
        return redirect("fortnox_sandbox:invoices")
    return render(request, "fortnox_sandbox/invoice.html", {"invoice": record.data})
