from django.utils.functional import SimpleLazyObject

from .selectors import memberships_for_user


def current_tenant(request):
    user = getattr(request, "user", None)
    return {
        "current_tenant": getattr(request, "tenant", None),
        "current_membership": getattr(request, "membership", None),
        # Only queried by pages that show the company switcher.
        "user_memberships": SimpleLazyObject(
            lambda: list(memberships_for_user(user=user)) if user and user.is_authenticated else []
        ),
    }
