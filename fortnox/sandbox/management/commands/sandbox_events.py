"""`manage.py sandbox_events`: the sandboxes' push channels, which WSGI cannot serve — the Fortnox
event stream (a WebSocket on SANDBOX_EVENTS_PORT) and the Ongoing warehouse's webhooks (posted to
the goods owner's webhook URL, with Ongoing's retry schedule)."""

import asyncio
import logging
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from fortnox.sandbox.events import EventServer, sandbox_events_prune
from ongoing.sandbox.webhooks import webhooks_deliver_due

logger = logging.getLogger(__name__)

WEBHOOK_POLL_SECONDS = 0.2
PRUNE_EVERY_SECONDS = 3600


def deliver_webhooks(stop: threading.Event) -> None:
    pruned_at = 0.0
    while not stop.is_set():
        close_old_connections()
        try:
            webhooks_deliver_due()
            if time.monotonic() - pruned_at > PRUNE_EVERY_SECONDS:
                sandbox_events_prune()
                pruned_at = time.monotonic()
        except Exception:
            logger.exception("sandbox webhooks: delivery failed; trying again")
        stop.wait(WEBHOOK_POLL_SECONDS)


class Command(BaseCommand):
    help = "Serve the Fortnox sandbox's event WebSocket and deliver the warehouse's webhooks."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.SANDBOX_EVENTS_HOST)
        parser.add_argument("--port", type=int, default=settings.SANDBOX_EVENTS_PORT)

    def handle(self, *args, **options):
        if not settings.SANDBOX_ENABLED:
            raise CommandError("sandbox_events only runs with SANDBOX_ENABLED (local/demo).")
        stop = threading.Event()
        threading.Thread(target=deliver_webhooks, args=(stop,), daemon=True).start()
        self.stdout.write(
            f"Fortnox sandbox events on ws://{options['host']}:{options['port']}/topics-v1; "
            "warehouse webhooks delivered from here."
        )
        try:
            asyncio.run(EventServer().serve(host=options["host"], port=options["port"]))
        finally:
            stop.set()
