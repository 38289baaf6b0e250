"""Fill both sandboxes with the demo data a person (or a test) needs: the Fortnox demo company and
the Ongoing demo warehouse "Demo Lager". Idempotent: running it again changes nothing."""

from importlib import import_module

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

# Each sandbox owns its seed; this command only runs them in order.
SEEDS = ["fortnox.sandbox.seed", "ongoing.sandbox.seed"]


class Command(BaseCommand):
    help = "Seed the Fortnox and Ongoing sandboxes with demo data (idempotent)."

    def handle(self, *args, **options):
        if not settings.SANDBOX_ENABLED:
            raise CommandError("sandbox_seed only runs with SANDBOX_ENABLED (local/demo settings).")
        for module in SEEDS:
            import_module(module).sandbox_seed(stdout=self.stdout)
