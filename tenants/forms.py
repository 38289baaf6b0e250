from django import forms
from django.utils.translation import gettext_lazy as _


class TenantForm(forms.Form):
    name = forms.CharField(label=_("Company name"), max_length=200)
    organisation_number = forms.RegexField(
        label=_("Organisation number"),
        regex=r"^\d{6}-?\d{4}$",
        required=False,
        error_messages={"invalid": _("Write the organisation number as 556677-8899.")},
    )
