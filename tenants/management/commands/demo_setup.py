from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tenants.models import Tenant, User
from tenants.services import tenant_create

DEMO_EMAIL = "admin@example.com"
DEMO_PASSWORD = "ongoing-fortnox"  # noqa: S105 - a demo login, refused outside sandbox settings
DEMO_COMPANY = "Demo Handel AB"


class Command(BaseCommand):
    help = "Create the demo admin and demo company for local runs (idempotent) and print the login."

    def handle(self, *args, **options):
        if not settings.SANDBOX_ENABLED:
            raise CommandError("demo_setup only runs with SANDBOX_ENABLED (local/demo settings).")
        user, created = User.objects.get_or_create(
            email=DEMO_EMAIL, defaults={"is_staff": True, "is_superuser": True, "name": "Demo"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        if not Tenant.objects.filter(memberships__user=user).exists():
            tenant_create(owner=user, name=DEMO_COMPANY, organisation_number="556677-8899")
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Demo login: {DEMO_EMAIL} / "
                f"{DEMO_PASSWORD if created or user.check_password(DEMO_PASSWORD) else '(changed)'}"
                f"\n  Open {settings.SITE_URL}/ (admin: {settings.SITE_URL}/admin/)\n"
            )
        )
