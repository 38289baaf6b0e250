from django import forms

from .models import SandboxCompany, SandboxRecord


def _choices(company: SandboxCompany, kind: str, label: str) -> list[tuple[str, str]]:
    records = SandboxRecord.objects.filter(company=company, kind=kind).order_by("key")
    return [("", "—")] + [(r.key, f"{r.key} {r.data.get(label, '')}") for r in records]


class CompanySettingsForm(forms.ModelForm):
    class Meta:
        model = SandboxCompany
        fields = [
            "warehouse_module",
            "error_rate",
            "throttle_burst",
            "latency_ms",
            "lost_response_rate",
        ]
        labels = {
            "warehouse_module": "Fortnox Lager (lagermodulen) aktiverad",
            "error_rate": "Andel anrop som svarar 500",
            "throttle_burst": "Nästa N anrop svarar 429",
            "latency_ms": "Extra svarstid (ms)",
            "lost_response_rate": "Andel anrop vars svar tappas efter att arbetet sparats (502)",
        }

    def clean(self):
        cleaned = super().clean()
        for name in ("error_rate", "lost_response_rate"):
            value = cleaned.get(name)
            if value is not None and not 0 <= value <= 1:
                self.add_error(name, "Ange ett värde mellan 0 och 1.")
        return cleaned


class ArticleForm(forms.Form):
    ArticleNumber = forms.CharField(label="Artikelnummer", max_length=50)
    Description = forms.CharField(label="Benämning", max_length=200)
    EAN = forms.CharField(label="EAN", max_length=20, required=False)
    StockGoods = forms.BooleanField(label="Lagervara", required=False)
    QuantityInStock = forms.DecimalField(label="Lagersaldo", required=False)
    PurchasePrice = forms.DecimalField(label="Inköpspris", required=False)
    SalesPrice = forms.DecimalField(label="Försäljningspris", required=False)
    Unit = forms.CharField(label="Enhet", max_length=10, required=False)
    Width = forms.IntegerField(label="Bredd (mm)", required=False)
    Height = forms.IntegerField(label="Höjd (mm)", required=False)
    Depth = forms.IntegerField(label="Djup (mm)", required=False)
    Weight = forms.IntegerField(label="Vikt (g)", required=False)
    SupplierNumber = forms.ChoiceField(label="Leverantör", required=False)
    Active = forms.BooleanField(label="Aktiv", required=False, initial=True)
    Note = forms.CharField(
        label="Anteckning", widget=forms.Textarea(attrs={"rows": 2}), required=False
    )

    def __init__(self, *args, company: SandboxCompany, editing: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["SupplierNumber"].choices = _choices(
            company, SandboxRecord.Kind.SUPPLIER, "Name"
        )
        if editing:
            self.fields["ArticleNumber"].disabled = True


class CustomerForm(forms.Form):
    CustomerNumber = forms.CharField(label="Kundnummer", max_length=50, required=False)
    Type = forms.ChoiceField(
        label="Typ", choices=[("COMPANY", "Företag"), ("PRIVATE", "Privatperson")]
    )
    Name = forms.CharField(label="Namn", max_length=200)
    OrganisationNumber = forms.CharField(label="Org.nr / personnr", max_length=20, required=False)
    Address1 = forms.CharField(label="Adress", max_length=200, required=False)
    ZipCode = forms.CharField(label="Postnummer", max_length=10, required=False)
    City = forms.CharField(label="Ort", max_length=100, required=False)
    CountryCode = forms.CharField(label="Landskod", max_length=2, initial="SE")
    Email = forms.EmailField(label="E-post", required=False)
    Phone1 = forms.CharField(label="Telefon", max_length=30, required=False)
    DeliveryName = forms.CharField(label="Leveransnamn", max_length=200, required=False)
    DeliveryAddress1 = forms.CharField(label="Leveransadress", max_length=200, required=False)
    DeliveryZipCode = forms.CharField(label="Leveranspostnummer", max_length=10, required=False)
    DeliveryCity = forms.CharField(label="Leveransort", max_length=100, required=False)
    DeliveryCountryCode = forms.CharField(label="Leveranslandskod", max_length=2, required=False)
    Active = forms.BooleanField(label="Aktiv", required=False, initial=True)

    def __init__(self, *args, editing: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["CustomerNumber"].disabled = True


class OrderForm(forms.Form):
    CustomerNumber = forms.ChoiceField(label="Kund")
    YourOrderNumber = forms.CharField(label="Ert ordernummer", max_length=30, required=False)
    YourReference = forms.CharField(label="Er referens", max_length=50, required=False)
    DeliveryDate = forms.DateField(label="Leveransdatum", required=False)
    WayOfDelivery = forms.CharField(label="Leveranssätt", max_length=20, required=False)
    Remarks = forms.CharField(
        label="Kommentar", widget=forms.Textarea(attrs={"rows": 2}), required=False
    )

    def __init__(self, *args, company: SandboxCompany, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["CustomerNumber"].choices = _choices(
            company, SandboxRecord.Kind.CUSTOMER, "Name"
        )


class OrderRowForm(forms.Form):
    RowId = forms.IntegerField(widget=forms.HiddenInput, required=False)
    ArticleNumber = forms.CharField(label="Artikel", max_length=50, required=False)
    OrderedQuantity = forms.DecimalField(label="Antal", required=False)
    DeliveredQuantity = forms.DecimalField(label="Levererat", required=False)
    remove = forms.BooleanField(label="Ta bort", required=False)


OrderRowFormSet = forms.formset_factory(OrderRowForm, extra=3)
