"""The REST API: what a company's own tooling may read and do, scoped by construction to the
company of the API key that calls it."""

from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.models import Integration, RecordLink, SyncFailure, SyncRun
from integrations.selectors import (
    connections_missing,
    integration_for_tenant,
    integration_health,
    open_failures,
    process_states,
)
from integrations.services import integrations as integration_services
from integrations.services.failures import sync_failure_retry

from .authentication import ApiKeyAuthentication, HasApiKey
from .serializers import (
    IntegrationStatusSerializer,
    MessageSerializer,
    RecordLinkSerializer,
    SettingsSerializer,
    SyncFailureSerializer,
    SyncRunSerializer,
)

# Answers every operation may give besides its success.
NOT_SIGNED = {401: MessageSerializer}
LIST_ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="A filter's value is not valid."),
    401: MessageSerializer,
    404: OpenApiResponse(MessageSerializer, description="No such page."),
}


class TenantApiView:
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKey]

    def own(self, queryset, pk: str):
        """The company's row with this id, or 404 (also for ids beyond any the database holds:
        the URLs take any integer)."""
        row = None
        if 0 < int(pk) < 2**63:
            row = queryset.filter(pk=int(pk), integration__tenant=self.tenant).first()
        if row is None:
            raise NotFound
        return row

    def matching(self, queryset):
        """The filtered list, or nothing when a filter holds NUL: no stored text can contain it,
        and PostgreSQL refuses to compare with it."""
        if any("\x00" in value for value in self.request.query_params.values()):
            return queryset.none()
        return queryset

    @property
    def tenant(self):
        return self.request.auth.tenant

    def integration(self) -> Integration:
        return integration_for_tenant(tenant=self.tenant)


class IntegrationStatusView(TenantApiView, APIView):
    @extend_schema(
        responses={200: IntegrationStatusSerializer, **NOT_SIGNED},
        summary="The integration's status",
    )
    def get(self, request):
        integration = self.integration()
        failing = open_failures(integration=integration).count()
        missing = connections_missing(tenant=self.tenant)
        data = {
            "status": integration.status,
            "health": integration_health(integration=integration, failing=bool(failing)),
            "interval_minutes": integration.interval_minutes,
            "next_run_at": integration.next_run_at,
            "activated_at": integration.activated_at,
            "open_failures": failing,
            "connections": {
                "fortnox": "Fortnox" not in missing,
                "ongoing": "Ongoing WMS" not in missing,
            },
            "last_run": SyncRun.objects.filter(integration=integration).order_by("-id").first(),
        }
        return Response(IntegrationStatusSerializer(data).data)


class SettingsView(TenantApiView, APIView):
    @extend_schema(
        responses={200: SettingsSerializer, **NOT_SIGNED},
        summary="Processes, options and interval",
    )
    def get(self, request):
        integration = self.integration()
        data = {
            "interval_minutes": integration.interval_minutes,
            "problem_email": integration.problem_email,
            "processes": [
                {
                    "key": state.process.key,
                    "label": str(state.process.label),
                    "enabled": state.enabled,
                    "options": state.options,
                }
                for state in process_states(integration=integration)
            ],
        }
        return Response(SettingsSerializer(data).data)


def _moment(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 time from a query parameter, in UTC (no offset means UTC)."""
    if not value:
        return None
    try:
        moment = parse_datetime(value)
        if moment is not None:
            moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise ApiValidationError({name: "Not an ISO 8601 date-time."})
    return moment


@extend_schema(
    parameters=[
        OpenApiParameter("status", OpenApiTypes.STR, enum=SyncRun.Status.values),
        OpenApiParameter("started_after", OpenApiTypes.DATETIME),
        OpenApiParameter("started_before", OpenApiTypes.DATETIME),
    ],
    responses={200: SyncRunSerializer(many=True), **LIST_ERRORS},
    summary="Runs, newest first",
)
class RunListView(TenantApiView, generics.ListAPIView):
    serializer_class = SyncRunSerializer

    def get_queryset(self):
        runs = SyncRun.objects.filter(integration__tenant=self.tenant).order_by("-id")
        params = self.request.query_params
        if params.get("status"):
            if params["status"] not in SyncRun.Status.values:
                raise ApiValidationError({"status": f"One of {', '.join(SyncRun.Status.values)}."})
            runs = runs.filter(status=params["status"])
        after = _moment(params.get("started_after"), "started_after")
        before = _moment(params.get("started_before"), "started_before")
        if after:
            runs = runs.filter(started_at__gte=after)
        if before:
            runs = runs.filter(started_at__lt=before)
        return self.matching(runs)


@extend_schema(
    responses={200: SyncRunSerializer, 401: MessageSerializer, 404: MessageSerializer},
    summary="One run",
)
class RunDetailView(TenantApiView, generics.RetrieveAPIView):
    serializer_class = SyncRunSerializer

    def get_object(self):
        return self.own(self.get_queryset(), self.kwargs["pk"])

    def get_queryset(self):
        return SyncRun.objects.filter(integration__tenant=self.tenant)


@extend_schema(
    parameters=[
        OpenApiParameter("state", OpenApiTypes.STR, enum=["open", "resolved"]),
        OpenApiParameter("process", OpenApiTypes.STR),
    ],
    responses={200: SyncFailureSerializer(many=True), **LIST_ERRORS},
    summary="Failures, most recently seen first",
)
class FailureListView(TenantApiView, generics.ListAPIView):
    serializer_class = SyncFailureSerializer

    def get_queryset(self):
        failures = SyncFailure.objects.filter(integration__tenant=self.tenant).order_by(
            "-last_seen_at", "-id"
        )
        state = self.request.query_params.get("state")
        if state == "open":
            failures = failures.filter(resolved_at__isnull=True)
        elif state == "resolved":
            failures = failures.filter(resolved_at__isnull=False)
        elif state:
            raise ApiValidationError({"state": "open or resolved."})
        if self.request.query_params.get("process"):
            failures = failures.filter(process=self.request.query_params["process"])
        return self.matching(failures)


@extend_schema(
    parameters=[
        OpenApiParameter("object_type", OpenApiTypes.STR, description="order, article, …"),
        OpenApiParameter("fortnox_key", OpenApiTypes.STR, description="e.g. order number 1042"),
        OpenApiParameter("ongoing_key", OpenApiTypes.STR, description="e.g. WMS order id"),
    ],
    responses={200: RecordLinkSerializer(many=True), **LIST_ERRORS},
    summary="Which WMS object a Fortnox object became, and back",
)
class RecordLinkListView(TenantApiView, generics.ListAPIView):
    serializer_class = RecordLinkSerializer

    def get_queryset(self):
        params = self.request.query_params
        links = RecordLink.objects.filter(integration__tenant=self.tenant).order_by("id")
        for name in ("object_type", "fortnox_key", "ongoing_key"):
            if params.get(name):
                links = links.filter(**{name: params[name]})
        return self.matching(links)


class IntegrationActionView(TenantApiView, APIView):
    service = None  # a lifecycle service taking integration= and actor=
    done = ""

    @extend_schema(
        request=None,
        responses={202: MessageSerializer, 401: MessageSerializer, 409: MessageSerializer},
    )
    def post(self, request):
        try:
            type(self).service(integration=self.integration(), actor=request.auth.created_by)
        except ValidationError as error:
            return Response({"detail": " ".join(error.messages)}, status=status.HTTP_409_CONFLICT)
        return Response({"detail": self.done}, status=status.HTTP_202_ACCEPTED)


class RunNowView(IntegrationActionView):
    service = integration_services.integration_request_run
    done = "A run has been queued."


class PauseView(IntegrationActionView):
    service = integration_services.integration_pause
    done = "Paused."


class ResumeView(IntegrationActionView):
    service = integration_services.integration_resume
    done = "Resumed."


class FailureRetryView(TenantApiView, APIView):
    @extend_schema(
        request=None,
        responses={
            202: MessageSerializer,
            401: MessageSerializer,
            404: MessageSerializer,
            409: MessageSerializer,
        },
        summary="Offer a failed object again on the next run",
    )
    def post(self, request, pk: str):
        failure = self.own(SyncFailure.objects.all(), pk)
        if failure.resolved_at is not None:
            return Response(
                {"detail": "This failure is resolved already."}, status=status.HTTP_409_CONFLICT
            )
        queued = sync_failure_retry(failure=failure, actor=request.auth.created_by)
        detail = "A run is queued." if queued else "It is retried when the integration runs."
        return Response({"detail": detail}, status=status.HTTP_202_ACCEPTED)
