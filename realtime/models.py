"""Near-real-time sync: what arrived from Fortnox's event stream and Ongoing's webhooks, and the
objects waiting for their targeted sync. The scheduled run stays the safety net; these rows only
make an object go through sooner."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from encrypted_fields.fields import EncryptedCharField

from integrations.models import Integration
from ongoing.models import OngoingConnection


class PendingSync(models.Model):
    """One object (an order number, an article number, a WMS order id…) that an event said has
    changed, waiting for a targeted sync of its process. One row per object however many events
    arrive: duplicates and bursts collapse into it (the debounce). The row is deleted by the run
    that synced it, unless another event re-armed it meanwhile, so nothing an event announced is
    lost when a worker dies or a run is busy."""

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="pending_syncs"
    )
    process = models.CharField(_("process"), max_length=40)
    object_ref = models.CharField(_("reference"), max_length=100)
    # Not before: the end of the debounce window.
    due_at = models.DateTimeField(_("due"))
    # The last event for the object; a run deletes the row only if this did not move meanwhile.
    requested_at = models.DateTimeField(_("requested"))
    # When the first event of this row arrived, for the latency figures.
    first_requested_at = models.DateTimeField(_("first requested"))
    events = models.PositiveIntegerField(_("events"), default=1)
    source = models.CharField(_("source"), max_length=20)

    class Meta:
        verbose_name = _("pending targeted sync")
        verbose_name_plural = _("pending targeted syncs")
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "process", "object_ref"], name="one_pending_sync_per_object"
            )
        ]
        indexes = [models.Index(fields=["due_at"], name="pending_sync_due")]

    def __str__(self):
        return f"{self.integration_id} {self.process} {self.object_ref}"


class FortnoxEventOffset(models.Model):
    """Where the event stream of one Fortnox tenant and topic continues after a restart: the
    offset of the last event whose targeted sync was queued (in the same transaction)."""

    fortnox_tenant_id = models.BigIntegerField(_("Fortnox tenant id"))
    topic = models.CharField(_("topic"), max_length=40)
    offset = models.CharField(_("offset"), max_length=100)
    event_at = models.DateTimeField(_("event time"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("Fortnox event offset")
        verbose_name_plural = _("Fortnox event offsets")
        constraints = [
            models.UniqueConstraint(
                fields=["fortnox_tenant_id", "topic"], name="one_offset_per_tenant_topic"
            )
        ]

    def __str__(self):
        return f"{self.fortnox_tenant_id} {self.topic} @ {self.offset}"


class WebhookEndpoint(models.Model):
    """The address and secret a company pastes into Ongoing WMS's webhook settings. The token in the
    URL only says which company; the secret in X-Auth-Token proves it is Ongoing."""

    connection = models.OneToOneField(
        OngoingConnection, on_delete=models.CASCADE, related_name="webhook_endpoint"
    )
    token = models.CharField(_("URL token"), max_length=64, unique=True)
    secret = EncryptedCharField(_("secret"), max_length=200)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_received_at = models.DateTimeField(_("last webhook"), null=True, blank=True)

    class Meta:
        verbose_name = _("Ongoing webhook endpoint")
        verbose_name_plural = _("Ongoing webhook endpoints")

    def __str__(self):
        return f"{self.connection}"


class WebhookDelivery(models.Model):
    """One webhook Ongoing delivered, kept by its webhookEventId so a redelivery is answered 200 and
    changes nothing."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.CharField(_("webhook event id"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20)
    object_ref = models.CharField(_("reference"), max_length=100, blank=True)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    class Meta:
        verbose_name = _("Ongoing webhook delivery")
        verbose_name_plural = _("Ongoing webhook deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="one_delivery_per_webhook_event"
            )
        ]
        indexes = [models.Index(fields=["received_at"], name="webhook_delivery_received")]

    def __str__(self):
        return f"{self.kind} {self.event_id}"


class EventSynced(models.Model):
    """An object a targeted run synced, and what Fortnox's list showed of it then (a fingerprint of
    the list's fields, computed from the full object the run read). The next scheduled run finds
    the object in its list of changes — the event's change is in its window — and, while the
    event stream is healthy and the list still shows the same, skips it without reading it again.
    One row per object, rewritten by each targeted run."""

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="event_synced"
    )
    process = models.CharField(_("process"), max_length=40)
    object_ref = models.CharField(_("reference"), max_length=100)
    listed = models.CharField(_("listed fingerprint"), max_length=64, blank=True)
    synced_at = models.DateTimeField(_("synced"))

    class Meta:
        verbose_name = _("object synced by an event")
        verbose_name_plural = _("objects synced by events")
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "process", "object_ref"], name="one_event_synced_per_object"
            )
        ]
        indexes = [models.Index(fields=["synced_at"], name="event_synced_at")]

    def __str__(self):
        return f"{self.integration_id} {self.process} {self.object_ref}"
