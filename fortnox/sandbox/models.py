"""The emulated Fortnox's state. It lives in the database so that web, worker and beat processes
see the same companies, tokens and records."""

import hashlib

from django.db import models

from integrations.sandbox_faults import FaultProfile


def token_hash(token: str) -> str:
    """Codes and refresh tokens are stored as hashes, as a real auth server would."""
    return hashlib.sha256(token.encode()).hexdigest()


class SandboxCompany(FaultProfile):
    """A Fortnox company (a Fortnox "tenant"), with its fault profile."""

    tenant_id = models.BigIntegerField(unique=True)
    database_number = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    organisation_number = models.CharField(max_length=20)
    address = models.CharField(max_length=200, blank=True)
    zip_code = models.CharField(max_length=10, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country_code = models.CharField(max_length=2, default="SE")
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=30, blank=True)
    warehouse_module = models.BooleanField(
        default=False, help_text="Fortnox Lager: the api/warehouse endpoints answer."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "sandbox companies"

    def __str__(self):
        return f"{self.name} ({self.tenant_id})"


class SandboxUser(models.Model):
    """A person who signs in to the emulated Fortnox (login, consent, Marketplace, the UI)."""

    company = models.ForeignKey(SandboxCompany, on_delete=models.CASCADE, related_name="users")
    user_id = models.PositiveIntegerField(unique=True)
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200)
    password = models.CharField(max_length=128)

    def __str__(self):
        return self.email


class SandboxApp(models.Model):
    """An integration registered in Fortnox's developer portal."""

    name = models.CharField(max_length=200)
    client_id = models.CharField(max_length=100, unique=True)
    client_secret = models.CharField(max_length=200)
    redirect_uri = models.URLField(max_length=500)
    scopes = models.JSONField(default=list, help_text="What a Marketplace activation grants.")

    def __str__(self):
        return f"{self.name} ({self.client_id})"


class SandboxAuthorizationCode(models.Model):
    code_hash = models.CharField(max_length=64, unique=True)
    app = models.ForeignKey(SandboxApp, on_delete=models.CASCADE)
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE)
    scopes = models.JSONField(default=list)
    redirect_uri = models.URLField(max_length=500)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"code for {self.user} ({self.app.client_id})"


class SandboxRefreshToken(models.Model):
    token_hash = models.CharField(max_length=64, unique=True)
    app = models.ForeignKey(SandboxApp, on_delete=models.CASCADE)
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE)
    scopes = models.JSONField(default=list)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    # Rotation: set the moment the token is exchanged for a new pair; it never works again.
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "issued_at"], name="sandbox_token_issued")]

    def __str__(self):
        return (
            f"refresh token for {self.user} ({self.app.client_id}) {self.issued_at:%Y-%m-%d %H:%M}"
        )


class SandboxRecord(models.Model):
    """One Fortnox object, kept as the JSON Fortnox would answer (PascalCase for the classic API,
    camelCase for the warehouse API), keyed like Fortnox keys it."""

    class Kind(models.TextChoices):
        ARTICLE = "article"
        SUPPLIER = "supplier"
        CUSTOMER = "customer"
        ORDER = "order"
        INVOICE = "invoice"
        DOCUMENT_TYPE = "document_type"
        CUSTOM_DOCUMENT = "custom_document"
        INCOMING_GOODS = "incoming_goods"
        PURCHASE_ORDER = "purchase_order"

    company = models.ForeignKey(SandboxCompany, on_delete=models.CASCADE, related_name="records")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.CharField(max_length=100)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "kind", "key"], name="sandbox_record_key")
        ]
        indexes = [
            models.Index(fields=["company", "kind", "modified_at"], name="sandbox_record_modified")
        ]

    def __str__(self):
        return f"{self.kind} {self.key}"


class SandboxApiRequest(models.Model):
    """Every authenticated API request the sandbox received, for its 25-per-5-s limit and for
    tests that check how many requests arrived in any window."""

    company = models.ForeignKey(SandboxCompany, on_delete=models.CASCADE, related_name="requests")
    client_id = models.CharField(max_length=100)
    # Seconds since the epoch, from fortnox.sandbox.clock (tests run it in simulated time).
    at = models.FloatField()
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    limited = models.BooleanField(default=False, help_text="Answered 429 by the rate limit.")

    class Meta:
        indexes = [
            models.Index(fields=["company", "client_id", "at"], name="sandbox_request_window")
        ]

    def __str__(self):
        return f"{self.method} {self.path} @ {self.at:.3f}"


class SandboxEvent(models.Model):
    """One entry of the emulated event stream (wss://ws.fortnox.se/topics-v1): written in the same
    transaction as the change it announces, pushed by `manage.py sandbox_events` to the
    WebSocket clients subscribed to its company and topic, and replayable by offset."""

    company = models.ForeignKey(SandboxCompany, on_delete=models.CASCADE, related_name="events")
    topic = models.CharField(max_length=40)
    type = models.CharField(max_length=60)
    entity_id = models.CharField(max_length=100)
    # Sandbox clock, like the records' modified_at.
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["company", "topic", "id"], name="sandbox_event_stream")]

    def __str__(self):
        return f"{self.type} {self.entity_id}"
