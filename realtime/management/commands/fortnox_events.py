"""`manage.py fortnox_events`: the long-running Fortnox event consumer (one per deployment)."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from realtime.services.fortnox_events import FortnoxEventConsumer


class Command(BaseCommand):
    help = (
        "Hold one WebSocket to Fortnox's event stream for every active tenant and queue a "
        "targeted sync for each changed object. Runs until stopped (SIGTERM or Ctrl-C)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", default="", help="Override FORTNOX_EVENTS_URL.")

    def handle(self, *args, **options):
        if not settings.FORTNOX_EVENTS_ENABLED:
            self.stdout.write("FORTNOX_EVENTS_ENABLED is off: the scheduled runs sync alone.")
            threading.Event().wait()  # stay up, so a process manager does not restart it forever
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        consumer = FortnoxEventConsumer(url=options["url"] or None)
        self.stdout.write(f"Fortnox events: consuming {consumer.url}")
        consumer.run(stop=stop)
