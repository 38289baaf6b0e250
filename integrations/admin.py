import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import (
    Heartbeat,
    Integration,
    IntegrationEvent,
    ProcessSetting,
    ReactivationLink,
    RecordLink,
    Supplier,
    SyncCursor,
    SyncFailure,
    SyncRun,
)
from .processes import registry
from .services import integrations as services
from .services.failures import sync_failure_retry
from .services.support import reactivation_email_resend, sync_failures_resolve_by_support
from .services.sync import OUTCOMES


class ProcessSettingForm(forms.ModelForm):
    """The process list and each process's options come from the registry declaration."""

    process = forms.ChoiceField(choices=[(p.key, p.label) for p in registry])

    class Meta:
        model = ProcessSetting
        fields = ["process", "enabled", "options"]

    def clean(self):
        cleaned = super().clean()
        key = cleaned.get("process")
        if key in registry:
            try:
                cleaned["options"] = registry[key].clean_options(cleaned.get("options") or {})
            except ValidationError as error:
                self.add_error("options", error.messages)
        return cleaned


class ProcessSettingInline(admin.TabularInline):
    model = ProcessSetting
    form = ProcessSettingForm
    extra = 0


# Entries on the timeline page: the newest runs and events, merged.
TIMELINE_LENGTH = 200


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = ["tenant", "kind", "status", "interval_minutes", "next_run_at", "activated_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["tenant"]
    search_fields = [
        "tenant__name",
        "tenant__organisation_number",
        "=tenant__fortnox_tenant_id",
        "problem_email",
    ]
    readonly_fields = ["created_at", "activated_at", "slow_lane_since", "timeline_link"]
    inlines = [ProcessSettingInline]
    actions = ["run_now", "pause", "resume", "resync", "resend_reactivation"]

    def _apply(self, request, queryset, action, done):
        succeeded = 0
        for integration in queryset:
            try:
                action(integration=integration, actor=request.user)
                succeeded += 1
            except ValidationError as error:
                self.message_user(
                    request, f"{integration}: {' '.join(error.messages)}", messages.WARNING
                )
        if succeeded:
            self.message_user(request, f"{done}: {succeeded}", messages.SUCCESS)

    def get_search_results(self, request, queryset, search_term):
        """Also find the company by an order or article number it synced or failed on."""
        results, duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            by_object = queryset.filter(
                pk__in=RecordLink.objects.filter(fortnox_key=term).values("integration_id")
            ) | queryset.filter(
                pk__in=SyncFailure.objects.filter(object_ref=term).values("integration_id")
            )
            results = results | by_object
        return results, duplicates

    def get_urls(self):
        timeline = self.admin_site.admin_view(self.timeline_view)
        return [
            path("<int:integration_id>/timeline/", timeline, name="integrations_timeline"),
            *super().get_urls(),
        ]

    @admin.display(description=_("timeline"))
    def timeline_link(self, integration):
        if integration.pk is None:
            return "—"
        url = reverse("admin:integrations_timeline", args=[integration.pk])
        return format_html('<a href="{}">{}</a>', url, _("Runs, settings, tokens and e-mails"))

    def timeline_view(self, request, integration_id: int):
        """Everything that happened to one company's integration, newest first, on one page."""
        integration = get_object_or_404(
            Integration.objects.select_related("tenant"), pk=integration_id
        )
        if not self.has_view_permission(request, integration):
            raise PermissionDenied
        runs = [
            {"at": run.started_at, "kind": "run", "run": run}
            for run in integration.runs.order_by("-started_at")[:TIMELINE_LENGTH]
        ]
        events = [
            {"at": event.created_at, "kind": event.kind, "event": event}
            for event in integration.events.select_related("actor").order_by("-created_at")[
                :TIMELINE_LENGTH
            ]
        ]
        entries = sorted(runs + events, key=lambda entry: entry["at"], reverse=True)
        return TemplateResponse(
            request,
            "admin/integrations/timeline.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "integration": integration,
                "entries": entries[:TIMELINE_LENGTH],
                "title": _("Timeline of %(company)s") % {"company": integration.tenant.name},
            },
        )

    @admin.action(description=_("Run now"))
    def run_now(self, request, queryset):
        self._apply(request, queryset, services.integration_request_run, _("Runs queued"))

    @admin.action(description=_("Pause"))
    def pause(self, request, queryset):
        self._apply(request, queryset, services.integration_pause, _("Paused"))

    @admin.action(description=_("Resume"))
    def resume(self, request, queryset):
        self._apply(request, queryset, services.integration_resume, _("Resumed"))

    @admin.action(description=_("Send the reactivation e-mail again"))
    def resend_reactivation(self, request, queryset):
        self._apply(request, queryset, reactivation_email_resend, _("Reactivation e-mails queued"))

    @admin.action(description=_("Reset cursors (full resync)…"))
    def resync(self, request, queryset):
        form = ResyncForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            process = form.cleaned_data["process"]
            for integration in queryset:
                services.integration_resync(
                    integration=integration, actor=request.user, process=process
                )
            self.message_user(
                request, _("Resync requested: %(n)s") % {"n": queryset.count()}, messages.SUCCESS
            )
            return None
        return TemplateResponse(
            request,
            "admin/integrations/resync.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "form": form,
                "integrations": queryset.select_related("tenant"),
                "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
                "title": _("Reset cursors"),
            },
        )


class ResyncForm(forms.Form):
    process = forms.ChoiceField(
        label=_("What to pull again"),
        choices=[("", _("Everything: pull and write every object again"))]
        + [(process.key, process.label) for process in registry],
        required=False,
    )


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "integration",
        "trigger",
        "status",
        "started_at",
        "duration",
        "totals_display",
        "fortnox_requests",
        "ongoing_requests",
    ]
    list_filter = ["status", "trigger", "started_at"]
    list_select_related = ["integration__tenant"]
    search_fields = ["integration__tenant__name", "=integration__tenant__fortnox_tenant_id"]
    raw_id_fields = ["integration"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    @admin.display(description=_("created / updated / unchanged / failed"))
    def totals_display(self, run):
        return " / ".join(str(run.totals[outcome]) for outcome in OUTCOMES)


class OpenFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", _("Open")), ("no", _("Resolved"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(SyncFailure)
class SyncFailureAdmin(admin.ModelAdmin):
    list_display = [
        "object_type",
        "object_ref",
        "integration",
        "process",
        "kind",
        "short_message",
        "attempts",
        "last_seen_at",
        "resolved_at",
    ]
    list_filter = [OpenFilter, "kind", "process", "object_type"]
    list_select_related = ["integration__tenant"]
    search_fields = ["object_ref", "message", "integration__tenant__name"]
    raw_id_fields = ["integration", "run", "resolved_by"]
    readonly_fields = ["first_seen_at", "last_seen_at", "attempts", "exchange"]
    exclude = ["details"]
    show_full_result_count = False
    actions = ["retry", "resolve"]

    @admin.action(description=_("Retry on the next run"))
    def retry(self, request, queryset):
        retried = 0
        for failure in queryset.filter(resolved_at__isnull=True):
            sync_failure_retry(failure=failure, actor=request.user)
            retried += 1
        self.message_user(request, _("%(n)s failures will be retried.") % {"n": retried})

    @admin.display(description=_("request and answer"))
    def exchange(self, failure):
        """The HTTP exchange behind the failure as the client recorded it, secrets masked."""
        if not failure.details:
            return "—"
        return format_html(
            '<pre style="white-space: pre-wrap">{}</pre>',
            json.dumps(failure.details, indent=2, ensure_ascii=False, default=str),
        )

    @admin.display(description=_("message"))
    def short_message(self, failure):
        return failure.message[:120]

    @admin.action(description=_("Mark resolved, with a comment"))
    def resolve(self, request, queryset):
        form = ResolveForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            closed = sync_failures_resolve_by_support(
                failures=queryset, actor=request.user, note=form.cleaned_data["note"]
            )
            self.message_user(request, _("%(n)s failures resolved.") % {"n": closed})
            return None
        return TemplateResponse(
            request,
            "admin/integrations/resolve_failures.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "form": form,
                "failures": queryset,
                "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
                "title": _("Mark failures resolved"),
            },
        )


class ResolveForm(forms.Form):
    note = forms.CharField(
        label=_("Comment"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Why these failures are resolved; shown on the company's timeline."),
    )


@admin.register(RecordLink)
class RecordLinkAdmin(admin.ModelAdmin):
    list_display = ["object_type", "fortnox_key", "ongoing_key", "integration", "synced_at"]
    list_filter = ["object_type"]
    list_select_related = ["integration__tenant"]
    search_fields = ["=fortnox_key", "=ongoing_key", "integration__tenant__name"]
    raw_id_fields = ["integration"]
    show_full_result_count = False


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ["number", "name", "integration", "updated_at"]
    list_select_related = ["integration__tenant"]
    search_fields = ["=number", "name", "integration__tenant__name"]
    raw_id_fields = ["integration"]
    readonly_fields = ["updated_at"]


@admin.register(SyncCursor)
class SyncCursorAdmin(admin.ModelAdmin):
    list_display = ["integration", "process", "value", "updated_at"]
    list_filter = ["process"]
    list_select_related = ["integration__tenant"]
    search_fields = ["integration__tenant__name"]
    raw_id_fields = ["integration"]


@admin.register(IntegrationEvent)
class IntegrationEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "integration", "kind", "message", "actor"]
    list_filter = ["kind", "created_at"]
    list_select_related = ["integration__tenant", "actor"]
    search_fields = ["message", "integration__tenant__name"]
    raw_id_fields = ["integration", "actor"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "beat_at", "details"]


@admin.register(ReactivationLink)
class ReactivationLinkAdmin(admin.ModelAdmin):
    list_display = ["integration", "incident_started_at", "sent_at", "expires_at", "used_at"]
    list_select_related = ["integration__tenant"]
    search_fields = ["integration__tenant__name"]
    # The token exists only in the e-mail; its hash is of no use to a person.
    exclude = ["token_hash"]
    readonly_fields = [
        "integration",
        "connection",
        "incident_started_at",
        "recipients",
        "sent_at",
        "expires_at",
        "used_at",
        "used_by",
    ]

    def has_add_permission(self, request):
        return False
