from django.db import models
from django.utils.translation import gettext_lazy as _
from encrypted_fields.fields import EncryptedCharField

from tenants.models import Tenant


class OngoingConnection(models.Model):
    """A company's Ongoing WMS goods owner: where its API is and how we sign in. Written only by
    ongoing_connection_save, after the credentials were verified against that API."""

    class Status(models.TextChoices):
        VERIFIED = "verified", _("Verified")
        REJECTED = "rejected", _("Credentials refused")
        # The customer disconnected the warehouse: the password is forgotten, System and username
        # stay so that connecting again means typing the password only.
        DISCONNECTED = "disconnected", _("Disconnected")

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, related_name="ongoing_connection"
    )
    system = models.CharField(
        _("system"), max_length=300, help_text=_("What the customer typed: a WMS address or ID.")
    )
    warehouse = models.CharField(_("warehouse"), max_length=64)
    api_base_url = models.CharField(_("API base URL"), max_length=300)
    goods_owner_id = models.PositiveIntegerField(_("goods owner id"))
    goods_owner_name = models.CharField(_("goods owner"), max_length=200, blank=True)
    username = models.CharField(_("username"), max_length=100)
    # Empty (NULL) once the customer disconnected the warehouse.
    password = EncryptedCharField(_("password"), max_length=200, null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.VERIFIED
    )
    verified_at = models.DateTimeField(_("verified"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("Ongoing WMS connection")
        verbose_name_plural = _("Ongoing WMS connections")

    def __str__(self):
        return f"{self.tenant} · {self.warehouse} / {self.goods_owner_name or self.goods_owner_id}"
