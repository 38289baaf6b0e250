"""The demo warehouse the onboarding walk-through connects to: "Demo Lager" with the goods owner of
the Fortnox demo company and its API user. Called by `manage.py sandbox_seed`; idempotent."""

import sys
from typing import TextIO

from django.db import transaction

from .models import ApiUser, GoodsOwner, Warehouse

WAREHOUSE_NAME = "demolager"
WAREHOUSE_DISPLAY_NAME = "Demo Lager"
CUSTOMER_ID = "4711"
GOODS_OWNER_NAME = "Demo Handel AB"
GOODS_OWNER_ORGANISATION_NUMBER = "556677-8899"
API_USERNAME = "WSIDemoHandel"
# A demo credential printed for the person trying the sandbox; sandbox URLs do not exist outside
# SANDBOX_ENABLED, which production settings refuse.
API_PASSWORD = "demo-lager-4711"  # noqa: S105


@transaction.atomic
def sandbox_seed(stdout: TextIO | None = None) -> ApiUser:
    warehouse, _ = Warehouse.objects.get_or_create(
        name=WAREHOUSE_NAME,
        defaults={"display_name": WAREHOUSE_DISPLAY_NAME, "customer_id": CUSTOMER_ID},
    )
    goods_owner, _ = GoodsOwner.objects.get_or_create(
        warehouse=warehouse,
        name=GOODS_OWNER_NAME,
        defaults={"organisation_number": GOODS_OWNER_ORGANISATION_NUMBER},
    )
    user = ApiUser.objects.filter(warehouse=warehouse, username=API_USERNAME).first()
    if user is None:
        user = ApiUser(warehouse=warehouse, username=API_USERNAME, goods_owner=goods_owner)
        user.set_password(API_PASSWORD)
        user.save()
    password = API_PASSWORD if user.check_password(API_PASSWORD) else "(changed in the admin)"
    out = stdout or sys.stdout
    out.write(
        f"\n  Ongoing WMS sandbox: {warehouse.display_name} (goods owner {goods_owner.name}, "
        f"id {goods_owner.pk})"
        f"\n    System:   {warehouse.system_url}   (or customer ID {warehouse.customer_id})"
        f"\n    Username: {user.username}"
        f"\n    Password: {password}"
        f"\n  The warehouse operator page is the System address itself.\n"
    )
    return user
