"""Fault injection shared by the Fortnox and Ongoing sandboxes: each sandbox company (or goods
owner) carries a FaultProfile, and every emulated API call passes through inject_before() and
inject_after(). Used by the reliability tests and by people trying the admin's repair tools."""

import random
import time
from collections.abc import Callable

from django.db import models
from django.db.models import F
from django.http import HttpResponse


class FaultProfile(models.Model):
    error_rate = models.FloatField(
        default=0, help_text="Share of calls (0 to 1) answered with a 500 before doing anything."
    )
    throttle_burst = models.PositiveIntegerField(
        default=0, help_text="The next N calls are answered 429 (counts down)."
    )
    latency_ms = models.PositiveIntegerField(default=0, help_text="Added to every call.")
    lost_response_rate = models.FloatField(
        default=0,
        help_text="Share of calls (0 to 1) whose work is committed but whose answer is lost (502).",
    )

    class Meta:
        abstract = True

    @property
    def any_fault(self) -> bool:
        return bool(
            self.error_rate or self.throttle_burst or self.latency_ms or self.lost_response_rate
        )


def inject_before(
    profile: FaultProfile | None,
    *,
    server_error: Callable[[], HttpResponse],
    rate_limited: Callable[[], HttpResponse],
) -> HttpResponse | None:
    """A faulty answer to send instead of doing the work, or None to go on."""
    if profile is None or not profile.any_fault:
        return None
    if profile.latency_ms:
        time.sleep(profile.latency_ms / 1000)
    if profile.throttle_burst:
        claimed = (
            type(profile)
            .objects.filter(pk=profile.pk, throttle_burst__gt=0)
            .update(throttle_burst=F("throttle_burst") - 1)
        )
        if claimed:
            return rate_limited()
    if profile.error_rate and random.random() < profile.error_rate:  # noqa: S311
        return server_error()
    return None


def inject_after(profile: FaultProfile | None, response: HttpResponse) -> HttpResponse:
    """Called after the work is committed: maybe lose the answer, as a dropped connection would."""
    lost_rate = profile.lost_response_rate if profile is not None else 0
    if lost_rate and random.random() < lost_rate:  # noqa: S311
        return HttpResponse("Bad Gateway: the response was lost", status=502)
    return response
