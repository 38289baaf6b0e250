from rest_framework import serializers

from integrations.models import Integration, RecordLink, SyncFailure, SyncRun


class ConnectionsSerializer(serializers.Serializer):
    fortnox = serializers.BooleanField(help_text="Fortnox consent is in place.")
    ongoing = serializers.BooleanField(help_text="The warehouse credentials are verified.")


class RunSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncRun
        fields = ["id", "status", "trigger", "started_at", "finished_at"]


class IntegrationStatusSerializer(serializers.ModelSerializer):
    health = serializers.CharField(
        help_text="ok, failing (some objects fail), stopped (needs reactivation), paused, setup."
    )
    open_failures = serializers.IntegerField()
    connections = ConnectionsSerializer()
    last_run = RunSummarySerializer(allow_null=True)

    class Meta:
        model = Integration
        fields = [
            "status",
            "health",
            "interval_minutes",
            "next_run_at",
            "activated_at",
            "open_failures",
            "connections",
            "last_run",
        ]


class ProcessSettingSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    enabled = serializers.BooleanField()
    options = serializers.DictField()


class SettingsSerializer(serializers.Serializer):
    interval_minutes = serializers.IntegerField()
    problem_email = serializers.EmailField(allow_blank=True)
    processes = ProcessSettingSerializer(many=True)


class SyncRunSerializer(serializers.ModelSerializer):
    counts = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField()),
        help_text="Per process: created, updated, skipped, failed.",
    )

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "status",
            "trigger",
            "started_at",
            "finished_at",
            "counts",
            "fortnox_requests",
            "ongoing_requests",
            "error",
        ]


class SyncFailureSerializer(serializers.ModelSerializer):
    run = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = SyncFailure
        fields = [
            "id",
            "run",
            "process",
            "object_type",
            "object_ref",
            "kind",
            "message",
            "attempts",
            "first_seen_at",
            "last_seen_at",
            "resolved_at",
        ]


class RecordLinkSerializer(serializers.ModelSerializer):
    class Meta:
        model = RecordLink
        fields = ["object_type", "fortnox_key", "ongoing_key", "synced_at"]


class MessageSerializer(serializers.Serializer):
    detail = serializers.CharField()
