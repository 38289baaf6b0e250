"""The emulated Ongoing WMS's state. Kept in the database so web, worker and beat (and the operator
page) all see the same warehouse. Ids are the primary keys: articleSystemId, orderId, …"""

import hashlib
import hmac
import secrets
from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from integrations.sandbox_faults import FaultProfile
from ongoing.statuses import OrderStatus, PurchaseOrderStatus
from ongoing.systems import sandbox_system_url

QUANTITY = {"max_digits": 14, "decimal_places": 3, "default": 0}


class Warehouse(models.Model):
    """One emulated Ongoing system, e.g. "demolager" at /sandbox/ongoing/demolager/."""

    name = models.SlugField(_("warehouse name"), max_length=64, unique=True)
    display_name = models.CharField(_("display name"), max_length=200)
    customer_id = models.CharField(
        _("customer ID"), max_length=12, unique=True, null=True, blank=True
    )

    def __str__(self):
        return self.display_name

    @property
    def system_url(self) -> str:
        return sandbox_system_url(self.name)


class GoodsOwner(FaultProfile):
    """A customer of the warehouse; its FaultProfile applies to every API call made for it."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="goods_owners")
    name = models.CharField(_("name"), max_length=200)
    organisation_number = models.CharField(_("organisation number"), max_length=20, blank=True)
    # Ongoing's webhook settings, as a person pastes them in from the integration's settings page:
    # where order status changes and inbound transactions are posted, with X-Auth-Token.
    webhook_url = models.URLField(_("webhook URL"), max_length=500, blank=True)
    webhook_token = models.CharField(_("webhook X-Auth-Token"), max_length=200, blank=True)
    webhook_loss_rate = models.FloatField(
        default=0,
        help_text="Share of webhooks (0 to 1) never delivered at all, retries included.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "name"], name="sandbox_goods_owner_name")
        ]

    def __str__(self):
        return self.name


class ApiUser(models.Model):
    """A goods owner API user (WSI…). Without a goods owner it can sign in but reach nothing."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="api_users")
    goods_owner = models.ForeignKey(
        GoodsOwner, on_delete=models.CASCADE, null=True, blank=True, related_name="api_users"
    )
    username = models.CharField(_("username"), max_length=50)
    # Demo credentials, checked on every emulated call: a salted SHA-256 keeps that cheap where a
    # password hasher's deliberate slowness would slow every sync down.
    password_salt = models.CharField(max_length=32)
    password_digest = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "username"], name="sandbox_api_username")
        ]

    def __str__(self):
        return self.username

    def set_password(self, password: str) -> None:
        self.password_salt = secrets.token_hex(16)
        self.password_digest = self._digest(password)

    def check_password(self, password: str) -> bool:
        return hmac.compare_digest(self._digest(password), self.password_digest)

    def _digest(self, password: str) -> str:
        return hashlib.sha256(f"{self.password_salt}:{password}".encode()).hexdigest()


class Article(models.Model):
    goods_owner = models.ForeignKey(GoodsOwner, on_delete=models.CASCADE, related_name="articles")
    article_number = models.CharField(max_length=100)
    # The PostArticleModel fields of the last PUT (articleName, barCodeInfo, weight, …).
    data = models.JSONField(default=dict)
    # Physical stock in the warehouse; booked, sellable and to-receive are derived from orders.
    number_of_items = models.DecimalField(**QUANTITY)
    data_updated_at = models.DateTimeField()
    stock_changed_at = models.DateTimeField()
    last_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["goods_owner", "article_number"], name="sandbox_article_number"
            )
        ]

    def __str__(self):
        return f"{self.article_number} {self.data.get('articleName') or ''}".strip()

    @property
    def is_stock_article(self) -> bool:
        return self.data.get("isStockArticle") is not False


class OrderType(models.Model):
    goods_owner = models.ForeignKey(
        GoodsOwner, on_delete=models.CASCADE, related_name="order_types"
    )
    code = models.CharField(max_length=50)
    name = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["goods_owner", "code"], name="sandbox_order_type_code")
        ]

    def __str__(self):
        return self.code


class Order(models.Model):
    goods_owner = models.ForeignKey(GoodsOwner, on_delete=models.CASCADE, related_name="orders")
    order_number = models.CharField(max_length=100)
    status = models.PositiveIntegerField(default=OrderStatus.OPEN)
    # The PostOrderModel header of the last PUT (consignee, deliveryDate, orderType, …).
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField()
    status_changed_at = models.DateTimeField()
    shipped_at = models.DateTimeField(null=True, blank=True)
    way_bill = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["goods_owner", "order_number"], name="sandbox_order_number"
            )
        ]

    def __str__(self):
        return self.order_number

    @property
    def status_text(self) -> str:
        return OrderStatus(self.status).text


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    row_number = models.CharField(max_length=50)
    article = models.ForeignKey(Article, on_delete=models.PROTECT, related_name="order_lines")
    ordered = models.DecimalField(**QUANTITY)
    picked = models.DecimalField(**QUANTITY)
    packed = models.DecimalField(**QUANTITY)
    reported = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    returned = models.DecimalField(**QUANTITY)
    reported_returned = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    picked_at = models.DateTimeField(null=True, blank=True)
    # comment, prices, externalId, shouldBePicked… of the last PUT.
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "row_number"], name="sandbox_order_row")
        ]

    def __str__(self):
        return f"{self.order} #{self.row_number}"

    @property
    def should_be_picked(self) -> bool:
        return self.article.is_stock_article and self.data.get("shouldBePicked") is not False

    @property
    def to_pick(self):
        return max(self.ordered - self.picked, Decimal(0))

    @property
    def returnable(self):
        return max(self.picked - self.returned, Decimal(0))


class PurchaseOrder(models.Model):
    goods_owner = models.ForeignKey(
        GoodsOwner, on_delete=models.CASCADE, related_name="purchase_orders"
    )
    purchase_order_number = models.CharField(max_length=100)
    status = models.PositiveIntegerField(default=PurchaseOrderStatus.NOTIFIED)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField()
    status_changed_at = models.DateTimeField()
    last_received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["goods_owner", "purchase_order_number"], name="sandbox_purchase_order"
            )
        ]

    def __str__(self):
        return self.purchase_order_number

    @property
    def status_text(self) -> str:
        return PurchaseOrderStatus(self.status).text


class PurchaseOrderLine(models.Model):
    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.CASCADE, related_name="lines"
    )
    row_number = models.CharField(max_length=50)
    article = models.ForeignKey(Article, on_delete=models.PROTECT, related_name="purchase_lines")
    advised = models.DecimalField(**QUANTITY)
    received = models.DecimalField(**QUANTITY)
    reported = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["purchase_order", "row_number"], name="sandbox_purchase_order_row"
            )
        ]

    def __str__(self):
        return f"{self.purchase_order} #{self.row_number}"

    @property
    def to_receive(self):
        return max(self.advised - self.received, Decimal(0))


class ReturnOrder(models.Model):
    """Goods a customer sent back on a delivered order, registered by the warehouse."""

    goods_owner = models.ForeignKey(
        GoodsOwner, on_delete=models.CASCADE, related_name="return_orders"
    )
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="return_orders")
    return_order_number = models.CharField(max_length=100)
    comment = models.CharField(max_length=500, blank=True)
    returned_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.return_order_number


class ReturnOrderLine(models.Model):
    return_order = models.ForeignKey(ReturnOrder, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="+")
    returned = models.DecimalField(**QUANTITY)
    cause = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.return_order} {self.order_line.row_number}: {self.returned}"


class InventoryAdjustment(models.Model):
    """A stock correction (found, broken, counted); its id is Ongoing's inventoryId."""

    goods_owner = models.ForeignKey(
        GoodsOwner, on_delete=models.CASCADE, related_name="inventory_adjustments"
    )
    article = models.ForeignKey(Article, on_delete=models.PROTECT, related_name="adjustments")
    number_of_items = models.DecimalField(max_digits=14, decimal_places=3)
    comment = models.CharField(max_length=500, blank=True)
    location = models.CharField(max_length=50, blank=True)
    adjusted_at = models.DateTimeField()
    is_reported = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.article} {self.number_of_items:+}"


class Webhook(models.Model):
    """One webhook the warehouse owes the goods owner's webhook URL, with Ongoing's retry schedule:
    delivered by `manage.py sandbox_events`, retried until answered 2xx or a day has passed."""

    goods_owner = models.ForeignKey(GoodsOwner, on_delete=models.CASCADE, related_name="webhooks")
    event_id = models.CharField(max_length=40, unique=True)
    kind = models.CharField(max_length=20)
    body = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    # None once delivered or given up.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["next_attempt_at"], name="sandbox_webhook_due")]

    def __str__(self):
        return f"{self.kind} {self.event_id}"
