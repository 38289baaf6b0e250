"""The demo warehouse `manage.py sandbox_seed` creates: what it prints, what it holds, and that a
second run changes nothing."""

import io

import pytest

from ongoing.sandbox.models import ApiUser, Article, GoodsOwner, Warehouse
from ongoing.sandbox.seed import (
    API_PASSWORD,
    API_USERNAME,
    CUSTOMER_ID,
    STOCK_ARTICLE_NUMBERS,
    sandbox_seed,
)
from ongoing.systems import system_parse

pytestmark = pytest.mark.django_db


def test_it_prints_what_to_type_during_onboarding(settings):
    out = io.StringIO()
    user = sandbox_seed(stdout=out)
    printed = out.getvalue()
    assert "Demo Lager" in printed
    assert f"System:   {settings.SANDBOX_BASE_URL}/ongoing/demolager/" in printed
    assert f"customer ID {CUSTOMER_ID}" in printed
    assert f"Username: {API_USERNAME}" in printed
    assert f"Password: {API_PASSWORD}" in printed
    assert user.goods_owner.name == "Demo Handel AB"
    assert user.check_password(API_PASSWORD)


def test_the_printed_system_and_customer_id_both_parse_to_the_sandbox(settings):
    sandbox_seed(stdout=io.StringIO())
    expected = (f"{settings.SANDBOX_BASE_URL}/ongoing/demolager/api/v1/",)
    assert system_parse(system=f"{settings.SANDBOX_BASE_URL}/ongoing/demolager/").api_base_urls == (
        expected
    )
    assert system_parse(system=CUSTOMER_ID).api_base_urls == expected


def test_the_fortnox_demo_articles_are_on_the_shelves():
    user = sandbox_seed(stdout=io.StringIO())
    articles = {a.article_number: a for a in Article.objects.filter(goods_owner=user.goods_owner)}
    assert set(articles) == set(STOCK_ARTICLE_NUMBERS)
    in_stock = [a for a in articles.values() if a.number_of_items > 0]
    # Most have stock, some are sold out (a partial pick can be tried).
    assert len(STOCK_ARTICLE_NUMBERS) * 0.8 <= len(in_stock) < len(STOCK_ARTICLE_NUMBERS)
    assert articles["1000"].number_of_items == 0


def test_a_second_run_changes_nothing_a_person_did(django_assert_max_num_queries):
    user = sandbox_seed(stdout=io.StringIO())
    article = Article.objects.get(goods_owner=user.goods_owner, article_number="1001")
    article.number_of_items = 3
    article.save()
    user.set_password("changed-by-a-person")
    user.save()
    out = io.StringIO()
    with django_assert_max_num_queries(12):
        sandbox_seed(stdout=out)
    assert (Warehouse.objects.count(), GoodsOwner.objects.count(), ApiUser.objects.count()) == (
        1,
        1,
        1,
    )
    assert Article.objects.count() == len(STOCK_ARTICLE_NUMBERS)
    article.refresh_from_db()
    assert article.number_of_items == 3
    assert "(changed in the admin)" in out.getvalue()
