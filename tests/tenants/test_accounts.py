"""People's accounts through django-allauth: e-mail login, sign-up with verification, reset."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_sign_up_sends_a_verification_email_and_the_link_signs_in(client):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "ny@example.com",
            "password1": "Ett-lagom-langt-losen-42",
            "password2": "Ett-lagom-langt-losen-42",
        },
    )

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ny@example.com"]
    link = re.search(r"https?://[^\s]+/accounts/confirm-email/[^\s]+/", mail.outbox[0].body)
    assert link
    path = link.group(0).split("testserver", 1)[-1]
    confirmed = client.post(path)
    assert confirmed.status_code == 302
    assert client.get(reverse("integrations:home")).url == reverse("tenants:create")


def test_login_with_email_and_password(client):
    user = UserFactory(email="kalle@example.com")
    user.emailaddress_set.create(email=user.email, verified=True, primary=True)

    response = client.post(
        reverse("account_login"),
        {"login": "kalle@example.com", "password": "correct-horse-battery"},
    )

    assert response.status_code == 302
    assert response.url == reverse("integrations:home")


def test_wrong_password_is_refused_with_a_message(client):
    UserFactory(email="kalle@example.com")

    response = client.post(
        reverse("account_login"), {"login": "kalle@example.com", "password": "fel"}
    )

    assert response.status_code == 200
    assert "not correct" in response.content.decode()


def test_password_reset_sends_a_link(client):
    UserFactory(email="glomsk@example.com")

    client.post(reverse("account_reset_password"), {"email": "glomsk@example.com"})

    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


def test_account_pages_use_the_product_layout(client):
    page = client.get(reverse("account_login")).content.decode()

    assert "css/app.css" in page
    assert "Ongoing WMS ⇄ Fortnox" in page
