from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Membership


class TenantForm(forms.Form):
    name = forms.CharField(label=_("Company name"), max_length=200)
    organisation_number = forms.RegexField(
        label=_("Organisation number"),
        regex=r"^\d{6}-?\d{4}$",
        required=False,
        error_messages={"invalid": _("Write the organisation number as 556677-8899.")},
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail address"),
        error_messages={
            "required": _("Write the e-mail address of the person you invite."),
            "invalid": _("Write a whole e-mail address, such as anna@example.com."),
        },
    )
    role = forms.ChoiceField(
        label=_("Role"),
        choices=Membership.Role.choices,
        initial=Membership.Role.VIEWER,
        help_text=_(
            "Viewers see the status, history and settings; administrators also change them and "
            "manage the team; owners can in addition appoint other owners."
        ),
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(
        label=_("Role"),
        choices=Membership.Role.choices,
        error_messages={"invalid_choice": _("Choose owner, administrator or viewer.")},
    )
