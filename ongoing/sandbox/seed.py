"""The demo warehouse the onboarding walk-through connects to: "Demo Lager" with the goods owner of
the Fortnox demo company, its API user, and stock on the shelves. Called by `manage.py
sandbox_seed`; idempotent: what exists is left as it is (a person may have played the warehouse
since), only what is missing is created."""

import random
import sys
from datetime import timedelta
from decimal import Decimal
from typing import TextIO

from django.db import transaction
from django.utils import timezone

from .models import ApiUser, Article, GoodsOwner, Warehouse

WAREHOUSE_NAME = "demolager"
WAREHOUSE_DISPLAY_NAME = "Demo Lager"
CUSTOMER_ID = "4711"
GOODS_OWNER_NAME = "Demo Handel AB"
GOODS_OWNER_ORGANISATION_NUMBER = "556677-8899"
API_USERNAME = "WSIDemoHandel"
# A demo credential printed for the person trying the sandbox; sandbox URLs do not exist outside
# SANDBOX_ENABLED, which production settings refuse.
API_PASSWORD = "demo-lager-4711"  # noqa: S105

# The Fortnox demo company's stock articles are numbered 1000, 1001, … (fortnox/sandbox/seed.py).
# The warehouse already holds them, so the first article sync finds stock to pick from; the numbers
# are repeated here rather than imported so that each sandbox can be seeded on its own.
STOCK_ARTICLE_NUMBERS = [str(number) for number in range(1000, 1190)]
# Every tenth article is out of stock, so a partial pick can be tried on the first order.
OUT_OF_STOCK_EVERY = 10
# The opening balance was counted before anything was synced: time filters of a first sync
# (articleDataLastUpdatedFrom, stockInfoChangedFrom) do not mistake it for news.
OPENING_BALANCE_AGE = timedelta(days=30)


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
    stocked = _opening_balance(goods_owner)
    password = API_PASSWORD if user.check_password(API_PASSWORD) else "(changed in the admin)"
    out = stdout or sys.stdout
    out.write(
        f"\n  Ongoing WMS sandbox: {warehouse.display_name} (goods owner {goods_owner.name}, "
        f"id {goods_owner.pk}, {stocked} articles on the shelves)"
        f"\n    System:   {warehouse.system_url}   (or customer ID {warehouse.customer_id})"
        f"\n    Username: {user.username}"
        f"\n    Password: {password}"
        f"\n  The warehouse operator page is the System address itself.\n"
    )
    return user


def _opening_balance(goods_owner: GoodsOwner) -> int:
    """Stock for the Fortnox demo articles the warehouse does not hold yet; returns how many
    articles the goods owner has in stock now."""
    known = set(
        Article.objects.filter(
            goods_owner=goods_owner, article_number__in=STOCK_ARTICLE_NUMBERS
        ).values_list("article_number", flat=True)
    )
    counted_at = timezone.now() - OPENING_BALANCE_AGE
    rng = random.Random(4711)  # noqa: S311 - believable numbers, the same on every machine
    missing = []
    for index, number in enumerate(STOCK_ARTICLE_NUMBERS):
        quantity = 0 if index % OUT_OF_STOCK_EVERY == 0 else rng.randint(5, 240)
        if number not in known:
            missing.append(
                Article(
                    goods_owner=goods_owner,
                    article_number=number,
                    number_of_items=Decimal(quantity),
                    data_updated_at=counted_at,
                    stock_changed_at=counted_at,
                    last_in_at=counted_at if quantity else None,
                )
            )
    Article.objects.bulk_create(missing)
    return goods_owner.articles.filter(number_of_items__gt=0).count()
