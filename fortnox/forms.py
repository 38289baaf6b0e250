from django import forms
from django.utils.translation import gettext_lazy as _


class ConsentLinkForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail address of the person who administers Fortnox"),
        required=False,
        help_text=_("Leave it empty to copy the link and send it yourself."),
        error_messages={"invalid": _("Write a whole e-mail address, such as anna@example.com.")},
    )
