import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from encrypted_fields.fields import EncryptedTextField

from tenants.models import Tenant

# The secret pair and its expiry: cleared together when a consent is revoked or dies.
TOKEN_FIELDS = ("access_token", "refresh_token", "access_expires_at")


class FortnoxConnection(models.Model):
    """A company's consent to Fortnox: who it is in Fortnox and the token pair that keeps it.

    Tokens change only inside the token service (fortnox/services/tokens.py), under a row lock."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        NEEDS_REACTIVATION = "needs_reactivation", _("Needs reactivation")
        REVOKED = "revoked", _("Disconnected")

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, related_name="fortnox_connection"
    )
    fortnox_tenant_id = models.BigIntegerField(_("Fortnox tenant id"), unique=True)
    company_name = models.CharField(_("company name in Fortnox"), max_length=200, blank=True)
    organisation_number = models.CharField(_("organisation number"), max_length=20, blank=True)
    scopes = models.JSONField(_("granted scopes"), default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE
    )
    # Empty tokens are stored as NULL by the encrypted field, hence null=True.
    access_token = EncryptedTextField(null=True, blank=True)
    refresh_token = EncryptedTextField(null=True, blank=True)
    access_expires_at = models.DateTimeField(_("access token expires"), null=True, blank=True)
    refresh_token_issued_at = models.DateTimeField(_("refresh token issued"), null=True, blank=True)
    last_refresh_success_at = models.DateTimeField(_("last refresh"), null=True, blank=True)
    last_refresh_failure_at = models.DateTimeField(_("last failed refresh"), null=True, blank=True)
    last_refresh_error = models.CharField(_("last refresh error"), max_length=300, blank=True)
    refresh_failures = models.PositiveIntegerField(_("consecutive refresh failures"), default=0)
    connected_at = models.DateTimeField(_("connected"))
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    needs_reactivation_since = models.DateTimeField(
        _("needs reactivation since"), null=True, blank=True
    )
    revoked_at = models.DateTimeField(_("disconnected"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("Fortnox connection")
        verbose_name_plural = _("Fortnox connections")
        # The keep-alive beat asks for active connections whose refresh token is getting old.
        indexes = [
            models.Index(fields=["status", "refresh_token_issued_at"], name="fortnox_keep_alive")
        ]

    def __str__(self):
        return f"{self.company_name or self.fortnox_tenant_id} ({self.get_status_display()})"

    def forget_tokens(self) -> list[str]:
        """Drop the pair (revoked or dead: nothing is gained by keeping it at rest); returns the
        fields to save."""
        for name in TOKEN_FIELDS:
            setattr(self, name, None)
        return list(TOKEN_FIELDS)

    @property
    def refresh_token_expires_at(self):
        if self.refresh_token_issued_at is None:
            return None
        return self.refresh_token_issued_at + timedelta(
            days=settings.FORTNOX_REFRESH_TOKEN_LIFETIME_DAYS
        )


class PendingFortnoxActivation(models.Model):
    """A consent that arrived from the Fortnox Marketplace before we knew which of our companies it
    belongs to. Its id is kept in the browser session until the person signs in and claims it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    fortnox_tenant_id = models.BigIntegerField(_("Fortnox tenant id"))
    company_name = models.CharField(_("company name in Fortnox"), max_length=200, blank=True)
    organisation_number = models.CharField(_("organisation number"), max_length=20, blank=True)
    scopes = models.JSONField(_("granted scopes"), default=list, blank=True)
    access_token = EncryptedTextField(null=True, blank=True)
    refresh_token = EncryptedTextField(null=True, blank=True)
    access_expires_at = models.DateTimeField(_("access token expires"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("pending Fortnox activation")
        verbose_name_plural = _("pending Fortnox activations")

    def __str__(self):
        return f"{self.company_name or self.fortnox_tenant_id} ({self.created_at:%Y-%m-%d %H:%M})"
