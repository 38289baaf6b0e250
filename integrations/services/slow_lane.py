"""The slow lane: a company whose Fortnox or warehouse hangs, trickles or keeps rate-limiting is
kept away from the worker processes that healthy companies need.

A run that stops because the other system was too slow (an error with `slow_system`) puts its
company in the slow lane. From then on its runs start only while holding one of the machine's
slow-call slots (integrations/http.py SlowCallSlots, fewer than the worker processes) for the
whole run; inside, its calls may wait on slow answers up to their deadlines. With no slot free
the run does not start: its next run is moved SLOW_LANE_RETRY_SECONDS ahead and the process is
free at once. The first run that ends without such a stop takes the company out of the lane.

Without this, every run of a hanging company costs a healthy process the slow-call patience
(HTTP_SLOW_CALL_SECONDS) before giving way; with it, only the first one does."""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from integrations.http import slow_call_slots, slow_lane_enter, slow_lane_leave
from integrations.models import Integration

logger = logging.getLogger(__name__)


def slow_lane_admit(integration: Integration, *, now=None) -> bool:
    """At a run's start: True when it may go (holding a slot if the company is in the lane);
    False when it must wait, its next run moved ahead."""
    if integration.slow_lane_since is None:
        return True
    slots = slow_call_slots()
    if slots is None or slow_lane_enter(slots):
        return True
    now = now or timezone.now()
    Integration.objects.filter(pk=integration.pk).update(
        next_run_at=now + timedelta(seconds=settings.SLOW_LANE_RETRY_SECONDS)
    )
    logger.info(
        "sync %s: in the slow lane and no slow-call slot is free; tried again in %s s",
        integration.pk,
        settings.SLOW_LANE_RETRY_SECONDS,
    )
    return False


def slow_lane_release() -> None:
    """Give back a slot taken by slow_lane_admit (nothing when none was)."""
    slow_lane_leave()


def slow_lane_settle(integration: Integration, *, stopped_slow: bool, now=None) -> None:
    """At a run's end: give the slot back; put the company in the lane when the run stopped
    because its system was too slow, take it out when a run in the lane did not."""
    slow_lane_leave()
    if stopped_slow == (integration.slow_lane_since is not None):
        return
    since = (now or timezone.now()) if stopped_slow else None
    Integration.objects.filter(pk=integration.pk).update(slow_lane_since=since)
    integration.slow_lane_since = since
    logger.info("sync %s: %s the slow lane", integration.pk, "into" if stopped_slow else "out of")
