from .selectors import membership_for_user

SESSION_KEY = "current_tenant_id"


class CurrentTenantMiddleware:
    """Sets request.membership and request.tenant from the signed-in user's own memberships.

    The session only remembers which of the user's companies they chose; an id that is not theirs
    falls back to their first company, so a tenant is never taken from a URL or session alone.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = None
        request.tenant = None
        if request.user.is_authenticated:
            membership = membership_for_user(
                user=request.user, tenant_id=request.session.get(SESSION_KEY)
            )
            if membership is not None:
                request.membership = membership
                request.tenant = membership.tenant
        return self.get_response(request)
