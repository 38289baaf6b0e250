from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect


def tenant_member_required(view=None, *, manage: bool = False):
    """The view runs for a signed-in member of the current company (request.tenant); with
    manage=True only owners and administrators may use it, viewers get 403."""

    def decorate(view_func):
        @login_required
        @wraps(view_func)
        def wrapper(request, *args, **kwargs):
            if request.membership is None:
                # Someone who signed up from an invitation link lands back on it.
                invitation = request.session.get("pending_invitation")
                if invitation:
                    return redirect("tenants:invitation", token=invitation)
                return redirect("tenants:create")
            if manage and not request.membership.can_manage:
                raise PermissionDenied
            return view_func(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate
