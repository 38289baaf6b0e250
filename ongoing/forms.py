from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant

from .models import OngoingConnection
from .services import VerifiedSystem, ongoing_connection_save, ongoing_connection_verify


class OngoingConnectionForm(forms.Form):
    """The warehouse step of onboarding (and reactivation): System, username, password. Valid only
    once the WMS accepted the credentials; save() then stores them."""

    system = forms.CharField(
        label=_("System"),
        max_length=300,
        help_text=_(
            "The address you sign in to your WMS with, for example "
            "https://demo.ongoingsystems.se/demo/, or your Ongoing customer ID (under the support "
            "info button at the bottom of the WMS page)."
        ),
    )
    username = forms.CharField(label=_("Username"), max_length=100)
    password = forms.CharField(
        label=_("Password"), max_length=200, strip=False, widget=forms.PasswordInput
    )

    verified: VerifiedSystem | None = None

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.verified = ongoing_connection_verify(
                system=cleaned["system"], username=cleaned["username"], password=cleaned["password"]
            )
        except ValidationError as error:
            field = "system" if error.code == "unknown_system" else None
            self.add_error(field, error)
        return cleaned

    def save(self, *, tenant: Tenant) -> OngoingConnection:
        if self.verified is None:
            raise ValueError("save() needs a valid form.")
        return ongoing_connection_save(tenant=tenant, verified=self.verified)
