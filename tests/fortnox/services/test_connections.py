"""Who a consent's tokens belong to, when companyinformation answers something odd."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fortnox.errors import FortnoxError
from fortnox.oauth import TokenSet
from fortnox.services.connections import fortnox_company_identify

TOKENS = TokenSet(
    access_token="not-a-jwt",
    refresh_token="r",
    expires_at=timezone.now() + timedelta(hours=1),
    scopes=[],
)


class Client:
    def __init__(self, info):
        self.info = info

    def company_information(self):
        return self.info


def test_name_and_organisation_number_are_made_to_fit_their_columns():
    company = fortnox_company_identify(
        tokens=TOKENS,
        client=Client(
            {
                "DatabaseNumber": "77",
                "CompanyName": "Bröderna\x00 Öst AB " + "x" * 500,
                "OrganizationNumber": "5566778899" * 5,
            }
        ),
    )

    assert company.fortnox_tenant_id == 77
    assert company.name == ("Bröderna Öst AB " + "x" * 500)[:200]
    assert company.organisation_number == ""


@pytest.mark.parametrize("number", [None, "sju", "0", "-5", "9" * 30, 2**63, [1]])
def test_a_database_number_that_cannot_be_a_company_is_refused(number):
    with pytest.raises(FortnoxError, match="did not say which company"):
        fortnox_company_identify(tokens=TOKENS, client=Client({"DatabaseNumber": number}))
