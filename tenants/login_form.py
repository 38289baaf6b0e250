from allauth.account.forms import LoginForm


class PrefilledLoginForm(LoginForm):
    """allauth's sign-in form, with the e-mail address filled in from ?email= (the reactivation
    link sends people here with the address it was e-mailed to)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound and self.request is not None:
            email = self.request.GET.get("email", "").strip()[:254]
            if email:
                self.fields["login"].initial = email
