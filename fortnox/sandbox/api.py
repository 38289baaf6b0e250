"""The emulated REST API: `3/…` (classic, PascalCase, enveloped) and `api/warehouse/…` (camelCase).

Every call goes through `endpoint`: bearer JWT → company → fault injection → the 25-per-5-s limit
→ scope (and warehouse-module) check → the work in one transaction → maybe lose the answer."""

import json
from collections.abc import Callable
from functools import wraps

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from integrations.sandbox_faults import inject_after, inject_before

from . import store
from .auth import access_token_claims, rate_limit_admit, retry_after_header
from .models import SandboxCompany, SandboxRecord
from .store import ApiError

Kind = SandboxRecord.Kind


def _rate_limited(wait: float) -> HttpResponse:
    # UNVERIFIED body: Fortnox's 429 is documented only by its status.
    response = JsonResponse({"message": "Too many requests, try again later."}, status=429)
    response["Retry-After"] = retry_after_header(wait)
    return response


def _server_error() -> HttpResponse:
    return ApiError(500, "Ett internt fel uppstod.", code=store.SERVER_ERROR).response()


def _unauthorised() -> HttpResponse:
    # UNVERIFIED: whether an expired token gets 401 or 403; the sandbox answers 401.
    return ApiError(401, "Ogiltigt Access-Token.", code=store.INVALID_TOKEN).response()


def _url_base(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("fortnox_sandbox:index")).rstrip("/")


def _json_body(request: HttpRequest, *, classic: bool = True):
    if not request.body:
        return None
    try:
        return json.loads(request.body)
    except ValueError:
        raise ApiError(
            400, "Felaktig JSON i anropet.", code=store.JSON_SYNTAX, classic=classic
        ) from None


def endpoint(*, scopes: tuple[str, ...], methods: tuple[str, ...], warehouse: bool = False):
    def decorate(view: Callable[..., object]):
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            header = request.headers.get("Authorization", "")
            claims = access_token_claims(header[7:]) if header.startswith("Bearer ") else None
            company = (
                SandboxCompany.objects.filter(tenant_id=claims.get("tenantId")).first()
                if claims
                else None
            )
            if company is None:
                return _unauthorised()
            faulty = inject_before(
                company,
                server_error=_server_error,
                rate_limited=lambda: _rate_limited(1),
            )
            if faulty is not None:
                return faulty
            wait = rate_limit_admit(
                company=company,
                client_id=str(claims.get("clientId", "")),
                method=request.method,
                path=request.get_full_path(),
            )
            if wait is not None:
                return _rate_limited(wait)
            try:
                if request.method not in methods:
                    raise ApiError(405, f"Metoden {request.method} stöds inte här.")
                missing = [scope for scope in scopes if scope not in (claims.get("scopes") or [])]
                if missing:
                    raise ApiError(
                        403,
                        f"Behörighet saknas för scope: {', '.join(missing)}.",
                        code=store.MISSING_SCOPE,
                    )
                if warehouse and not company.warehouse_module:
                    raise ApiError(
                        403,
                        "Fortnox Lager är inte aktiverat för företaget.",
                        code=store.NO_LICENCE_FOR_SCOPE,
                    )
                with transaction.atomic():
                    answer = view(request, company, *args, **kwargs)
            except ApiError as error:
                return error.response()
            response = (
                answer if isinstance(answer, HttpResponse) else JsonResponse(answer, safe=False)
            )
            return inject_after(company, response)

        return wrapper

    return decorate


# --- classic API --------------------------------------------------------------------------


@endpoint(scopes=("companyinformation",), methods=("GET",))
def company_information(request, company: SandboxCompany):
    return {
        "CompanyInformation": {
            "Address": company.address,
            "City": company.city,
            "CountryCode": company.country_code,
            "DatabaseNumber": company.database_number,
            "CompanyName": company.name,
            "OrganizationNumber": company.organisation_number,
            "VisitAddress": company.address,
            "VisitCity": company.city,
            "VisitCountryCode": company.country_code,
            "VisitZipCode": company.zip_code,
            "ZipCode": company.zip_code,
        }
    }


WRITERS = {
    "articles": lambda company, fields, key: store.article_write(company, fields, key=key),
    "suppliers": lambda company, fields, key: store.supplier_write(company, fields, key=key),
    "customers": lambda company, fields, key: store.customer_write(company, fields, key=key),
    "orders": lambda company, fields, key: store.order_write(company, fields, key=key),
}


def _collection(path: str):
    resource = store.RESOURCES[path]
    methods = ("GET", "POST") if path in WRITERS else ("GET",)

    @endpoint(scopes=(resource.scope,), methods=methods)
    def view(request, company):
        if request.method == "POST":
            fields = store.payload(_json_body(request), resource)
            created = WRITERS[path](company, fields, None)
            return JsonResponse(
                store.resource_get(
                    company, resource, created[resource.key_field], url_base=_url_base(request)
                ),
                status=201,
            )
        return store.resource_list(company, resource, request.GET, url_base=_url_base(request))

    view.__name__ = f"{path}_collection"
    return view


def _item(path: str):
    resource = store.RESOURCES[path]
    methods = ("GET", "PUT") if path in WRITERS else ("GET",)

    @endpoint(scopes=(resource.scope,), methods=methods)
    def view(request, company, key: str):
        if request.method == "PUT":
            fields = store.payload(_json_body(request), resource)
            WRITERS[path](company, fields, key)
        return store.resource_get(company, resource, key, url_base=_url_base(request))

    view.__name__ = f"{path}_item"
    return view


COLLECTIONS = {path: _collection(path) for path in store.RESOURCES}
ITEMS = {path: _item(path) for path in store.RESOURCES}


@endpoint(scopes=("order", "invoice"), methods=("PUT",))
def order_create_invoice(request, company, key: str):
    return {"Invoice": store.order_invoice_create(company, key)}


@endpoint(scopes=("order",), methods=("PUT",))
def order_cancel(request, company, key: str):
    store.order_cancel(company, key)
    return store.resource_get(company, store.ORDERS, key, url_base=_url_base(request))


@endpoint(scopes=("order",), methods=("PUT",))
def order_warehouse_ready(request, company, key: str):
    store.warehouse_ready(company, Kind.ORDER, key)
    return store.resource_get(company, store.ORDERS, key, url_base=_url_base(request))


@endpoint(scopes=("invoice",), methods=("PUT",))
def invoice_warehouse_ready(request, company, key: str):
    store.warehouse_ready(company, Kind.INVOICE, key)
    return store.resource_get(company, store.INVOICES, key, url_base=_url_base(request))


# --- warehouse API ------------------------------------------------------------------------


@endpoint(scopes=("warehouse",), methods=("GET",))
def warehouse_tenant(request, company):
    # Answers with the module off too: this is how a client finds out whether it is on.
    return {"tenantId": company.tenant_id, "activated": company.warehouse_module}


@endpoint(scopes=("warehouse",), methods=("GET",), warehouse=True)
def stock_balance(request, company):
    item_ids = [item for item in request.GET.get("itemIds", "").split(",") if item]
    stock_points = request.GET.get("stockPointCodes", "").split(",")
    return store.stock_balance(company, item_ids=item_ids, stock_points=stock_points)


@endpoint(scopes=("warehouse",), methods=("PUT",), warehouse=True)
def custom_document(request, company, category: str, document_type: str, document_id: str):
    return store.custom_document_save(
        company,
        category=category,
        document_type=document_type,
        document_id=document_id,
        body=_json_body(request, classic=False),
    )


@endpoint(scopes=("warehouse",), methods=("PUT",), warehouse=True)
def custom_document_release(request, company, category, document_type, document_id):
    return store.custom_document_release(
        company, category=category, document_type=document_type, document_id=document_id
    )


@endpoint(scopes=("warehouse",), methods=("GET", "POST"), warehouse=True)
def incoming_goods(request, company):
    if request.method == "GET":
        return store.incoming_goods_list(company, request.GET)
    return JsonResponse(
        store.incoming_goods_create(company, _json_body(request, classic=False)), status=201
    )


@endpoint(scopes=("warehouse",), methods=("PUT",), warehouse=True)
def incoming_goods_release(request, company, key: str):
    return store.incoming_goods_release(company, key)


@endpoint(scopes=("warehouse",), methods=("PUT",), warehouse=True)
def incoming_goods_completed(request, company, key: str):
    return store.incoming_goods_complete(company, key, _json_body(request, classic=False))


@endpoint(scopes=("warehouse",), methods=("GET",), warehouse=True)
def purchase_orders(request, company):
    return store.purchase_orders_list(
        company,
        state=request.GET.get("state", "ALL"),
        purchase_type=request.GET.get("purchaseType", ""),
    )


@endpoint(scopes=("warehouse",), methods=("GET",), warehouse=True)
def purchase_order(request, company, key: str):
    return store.purchase_order_get(company, key)


@endpoint(scopes=("warehouse",), methods=("PUT",), warehouse=True)
def purchase_order_complete(request, company, key: str):
    return store.purchase_order_complete(company, key)
