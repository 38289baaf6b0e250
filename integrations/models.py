from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant

from .processes import registry


class Integration(models.Model):
    class Kind(models.TextChoices):
        ONGOING_FORTNOX = "ongoing_fortnox", _("Ongoing WMS ⇄ Fortnox")

    class Status(models.TextChoices):
        SETUP = "setup", _("Being set up")
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        NEEDS_REACTIVATION = "needs_reactivation", _("Needs reactivation")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="integrations")
    kind = models.CharField(
        _("kind"), max_length=30, choices=Kind.choices, default=Kind.ONGOING_FORTNOX
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.SETUP
    )
    interval_minutes = models.PositiveIntegerField(
        _("sync interval (minutes)"), default=settings.SYNC_DEFAULT_INTERVAL_MINUTES
    )
    next_run_at = models.DateTimeField(_("next run"), null=True, blank=True)
    problem_email = models.EmailField(_("e-mail for problems"), blank=True)
    activated_at = models.DateTimeField(_("activated"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # Set when a run stopped because Fortnox or the warehouse was too slow: the company's runs
    # then go only in a slow-call slot of the machine, until one runs without that stop.
    slow_lane_since = models.DateTimeField(_("in the slow lane since"), null=True, blank=True)

    class Meta:
        verbose_name = _("integration")
        verbose_name_plural = _("integrations")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "kind"], name="one_integration_per_kind"),
            models.CheckConstraint(
                condition=Q(interval_minutes__gte=1) & Q(interval_minutes__lte=1440),
                name="interval_between_1_minute_and_1_day",
            ),
        ]
        # The scheduler tick asks for due active integrations in next_run_at order.
        indexes = [models.Index(fields=["status", "next_run_at"], name="integration_due")]

    def __str__(self):
        return f"{self.tenant} · {self.get_kind_display()}"


class ProcessSetting(models.Model):
    """Whether one process of the registry runs for an integration, and its options."""

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="process_settings"
    )
    process = models.CharField(_("process"), max_length=40)
    enabled = models.BooleanField(_("enabled"))
    options = models.JSONField(_("options"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("process setting")
        verbose_name_plural = _("process settings")
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "process"], name="one_setting_per_process"
            )
        ]

    def __str__(self):
        return f"{self.integration} · {self.process}"


class SyncRun(models.Model):
    class Trigger(models.TextChoices):
        BEAT = "beat", _("Schedule")
        MANUAL = "manual", _("Run now")
        EVENT = "event", _("Event")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        PARTIAL = "partial", _("Some objects failed")
        FAILED = "failed", _("Failed")

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(_("trigger"), max_length=10, choices=Trigger.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.RUNNING
    )
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # {"articles": {"created": 3, "updated": 1, "skipped": 40, "failed": 0}, …}; JSON objects keep
    # no key order in PostgreSQL, so read them in run order through process_counts.
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    fortnox_requests = models.PositiveIntegerField(_("Fortnox requests"), default=0)
    ongoing_requests = models.PositiveIntegerField(_("Ongoing requests"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
        ordering = ["-started_at", "-id"]
        constraints = [
            # The database, not only the engine's lock, guarantees one running run at a time.
            models.UniqueConstraint(
                fields=["integration"],
                condition=Q(status="running"),
                name="one_running_run_per_integration",
            )
        ]
        indexes = [
            models.Index(fields=["integration", "-started_at"], name="run_history"),
            models.Index(fields=["status", "started_at"], name="run_status_time"),
            models.Index(fields=["started_at"], name="run_started"),
            # The admin's run list filtered by trigger, newest first.
            models.Index(fields=["trigger", "-started_at"], name="run_trigger_time"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.integration} {self.get_status_display()}"

    @property
    def duration(self):
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    @property
    def process_counts(self) -> list[tuple[str, dict[str, int]]]:
        known = [(p.label, self.counts[p.key]) for p in registry if p.key in self.counts]
        unknown = [(key, value) for key, value in self.counts.items() if key not in registry]
        return known + unknown

    @property
    def totals(self) -> dict[str, int]:
        totals = dict.fromkeys(("created", "updated", "skipped", "failed"), 0)
        for process_counts in self.counts.values():
            for outcome, number in process_counts.items():
                totals[outcome] = totals.get(outcome, 0) + number
        return totals


class SyncFailure(models.Model):
    """One object that failed to sync (or a whole process that crashed). Stays open, counting its
    attempts across runs, until the object syncs or someone resolves it."""

    class Kind(models.TextChoices):
        AUTH = "auth", _("Authorisation")
        RATE_LIMIT = "rate_limit", _("Rate limit")
        REMOTE = "remote", _("Remote system")
        VALIDATION = "validation", _("Validation")
        BUG = "bug", _("Internal error")

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="failures")
    run = models.ForeignKey(
        SyncRun,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="failures",
        help_text=_("The last run that saw this failure."),
    )
    process = models.CharField(_("process"), max_length=40)
    object_type = models.CharField(_("object type"), max_length=40)
    object_ref = models.CharField(_("reference"), max_length=100)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    message = models.TextField(_("message"))
    details = models.JSONField(_("details"), default=dict, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    first_seen_at = models.DateTimeField(_("first seen"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen"))
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolution_note = models.TextField(_("resolution note"), blank=True)
    # Set by the retry button: the next run offers the object again, even a refused one; cleared
    # when the object fails again.
    retry_requested_at = models.DateTimeField(_("retry requested"), null=True, blank=True)

    class Meta:
        verbose_name = _("sync failure")
        verbose_name_plural = _("sync failures")
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "process", "object_type", "object_ref"],
                condition=Q(resolved_at__isnull=True),
                name="one_open_failure_per_object",
            )
        ]
        indexes = [
            models.Index(
                fields=["integration", "-last_seen_at"],
                condition=Q(resolved_at__isnull=True),
                name="open_failures",
            ),
            models.Index(fields=["last_seen_at"], name="failure_last_seen"),
            models.Index(fields=["object_ref"], name="failure_object_ref"),
            # The admin's failure list: open ones across all companies, and each of its filters,
            # newest first.
            models.Index(
                fields=["-last_seen_at"],
                condition=Q(resolved_at__isnull=True),
                name="open_failures_all",
            ),
            models.Index(fields=["kind", "-last_seen_at"], name="failure_kind_time"),
            models.Index(fields=["process", "-last_seen_at"], name="failure_process_time"),
            models.Index(fields=["object_type", "-last_seen_at"], name="failure_type_time"),
        ]

    def __str__(self):
        return f"{self.object_type} {self.object_ref}: {self.message[:60]}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class RecordLink(models.Model):
    """Which Ongoing object a Fortnox object became, and the fingerprint of what was last sent, so
    an unchanged object costs no write and a retried run never creates a second one."""

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="record_links"
    )
    object_type = models.CharField(_("object type"), max_length=40)
    fortnox_key = models.CharField(_("Fortnox key"), max_length=100)
    ongoing_key = models.CharField(_("Ongoing key"), max_length=100, blank=True)
    fingerprint = models.CharField(_("fingerprint"), max_length=64, blank=True)
    synced_at = models.DateTimeField(_("synced"))

    class Meta:
        verbose_name = _("record link")
        verbose_name_plural = _("record links")
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "object_type", "fortnox_key"], name="one_link_per_object"
            )
        ]
        indexes = [
            models.Index(
                fields=["integration", "object_type", "ongoing_key"], name="link_by_ongoing_key"
            ),
            models.Index(fields=["fortnox_key"], name="link_fortnox_key"),
            # The admin's link list filtered by object type.
            models.Index(fields=["object_type", "id"], name="link_type"),
        ]

    def __str__(self):
        return f"{self.object_type} {self.fortnox_key} → {self.ongoing_key or '—'}"


class IncomingGoodsReceipt(models.Model):
    """One receival of a Fortnox purchase order in the warehouse, booked in Fortnox as one
    incoming-goods document. Recorded before anything is sent, with the quantities it covers, and
    moved on after each step, so a retried run finishes the same receipt and never books the same
    goods twice: what is still to book is what the warehouse received minus all receipts here."""

    class Step(models.TextChoices):
        RECORDED = "recorded", _("recorded")
        CREATING = "creating", _("creating incoming goods")
        CREATED = "created", _("incoming goods created")
        RELEASING = "releasing", _("releasing")
        RELEASED = "released", _("released")
        COMPLETED = "completed", _("completed")

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="incoming_goods_receipts"
    )
    purchase_order = models.CharField(_("Fortnox purchase order"), max_length=50)
    sequence = models.PositiveIntegerField(_("receival"))
    # {Fortnox purchase order row id: quantity received in this receival}
    quantities = models.JSONField(_("quantities"), default=dict)
    incoming_goods_id = models.CharField(_("incoming goods"), max_length=50, blank=True)
    step = models.CharField(_("step"), max_length=10, choices=Step.choices, default=Step.RECORDED)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("incoming goods receipt")
        verbose_name_plural = _("incoming goods receipts")
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "purchase_order", "sequence"],
                name="one_receipt_per_sequence",
            )
        ]

    def __str__(self):
        return f"{self.purchase_order} #{self.sequence} {self.step}"


class Supplier(models.Model):
    """Our copy of the company's Fortnox supplier registry. Ongoing has no supplier endpoint, so a
    supplier reaches the warehouse inside the articles and purchase orders that name it."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="suppliers")
    number = models.CharField(_("supplier number"), max_length=50)
    name = models.CharField(_("name"), max_length=200, blank=True)
    data = models.JSONField(_("as Fortnox lists it"), default=dict)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("supplier")
        verbose_name_plural = _("suppliers")
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "number"], name="one_supplier_per_number"
            )
        ]

    def __str__(self):
        return f"{self.number} {self.name}"


class SyncCursor(models.Model):
    """Where a process's incremental pull continues; written only after the page it covers is
    committed."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="cursors")
    process = models.CharField(_("process"), max_length=40)
    value = models.CharField(_("value"), max_length=100)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("sync cursor")
        verbose_name_plural = _("sync cursors")
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "process"], name="one_cursor_per_process"
            )
        ]

    def __str__(self):
        return f"{self.integration} · {self.process} = {self.value}"


class IntegrationEvent(models.Model):
    """The integration's timeline: settings changed, status changed, tokens, e-mails, support."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        STATUS = "status", _("Status changed")
        SETTINGS = "settings", _("Settings changed")
        RUN_REQUESTED = "run_requested", _("Run requested")
        TOKEN = "token", _("Token event")
        EMAIL = "email", _("E-mail sent")
        SUPPORT = "support", _("Support action")

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.CharField(_("message"), max_length=300)
    data = models.JSONField(_("data"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("integration event")
        verbose_name_plural = _("integration events")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["integration", "-created_at"], name="event_timeline"),
            # The admin's event list: by kind and by date, newest first.
            models.Index(fields=["kind", "-created_at"], name="event_kind_time"),
            models.Index(fields=["-created_at"], name="event_time"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.message}"


class ReactivationLink(models.Model):
    """The e-mailed link for one incident (a connection needing reactivation since a moment): it
    makes the e-mail go once per incident, and the link work once, until it expires."""

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="reactivation_links"
    )
    connection = models.ForeignKey(
        "fortnox.FortnoxConnection", on_delete=models.CASCADE, related_name="+"
    )
    incident_started_at = models.DateTimeField(_("needs reactivation since"))
    recipients = models.JSONField(_("recipients"), default=list, blank=True)
    # Only the hash of the link's token is kept: the e-mail is the one place the link exists.
    token_hash = models.CharField(_("token hash"), max_length=64, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    used_at = models.DateTimeField(_("used"), null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("reactivation link")
        verbose_name_plural = _("reactivation links")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "incident_started_at"], name="one_link_per_incident"
            )
        ]

    def __str__(self):
        return f"{self.integration} · {self.incident_started_at:%Y-%m-%d %H:%M}"


class RunHour(models.Model):
    """How many runs started in one hour, and how many of them failed partly or wholly, stored
    once every run of that hour has finished. The dashboard reads these instead of counting the
    last day's runs, a million of them at 10,000 companies."""

    hour = models.DateTimeField(unique=True)
    runs = models.PositiveIntegerField()
    failed_runs = models.PositiveIntegerField()

    def __str__(self):
        return f"{self.hour:%Y-%m-%d %H:00}: {self.runs} runs, {self.failed_runs} failed"


class Heartbeat(models.Model):
    """When a background loop (the scheduler tick, later the event consumer) last did its work;
    /healthz and the dashboard read it."""

    name = models.CharField(max_length=40, unique=True)
    beat_at = models.DateTimeField()
    details = models.JSONField(default=dict, blank=True)

    def __str__(self):
        return f"{self.name} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"
