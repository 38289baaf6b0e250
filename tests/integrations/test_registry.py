import pytest
from django.core.exceptions import ValidationError

from integrations.processes import registry
from integrations.registry import Direction, Option, Process, Registry


def test_declares_the_seven_processes_with_the_seed_defaults():
    assert {p.key: p.default_enabled for p in registry} == {
        "suppliers": True,
        "articles": True,
        "sales_orders": True,
        "purchase_orders": False,
        "fulfilment": True,
        "warehouse_module": False,
        "stock_balance": False,
    }
    assert registry["sales_orders"].default_options() == {
        "pull_filter": "invoicenotcreated",
        "required_state": "confirmed",
        "order_type_from_customer": False,
        "sms_notification": False,
        "email_notification": False,
    }
    assert registry["fulfilment"].default_options() == {
        "report_at": "sent",
        "create_invoice": True,
        "lower_ordered_quantity": False,
    }
    # The classic stock balance is written "at the end of each synchronization interval".
    assert list(registry)[-1].key == "stock_balance"


def test_processes_without_a_body_are_not_offered():
    assert registry.offered() == [p for p in registry if p.body is not None]


def test_clean_options_types_values_and_fills_defaults():
    cleaned = registry["sales_orders"].clean_options(
        {"order_type_from_customer": "on", "required_state": "any"}
    )

    assert cleaned["order_type_from_customer"] is True
    assert cleaned["required_state"] == "any"
    assert cleaned["pull_filter"] == "invoicenotcreated"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"required_state": "shipped"}, "shipped is not a choice"),
        ({"sms_notification": "maybe"}, "must be on or off"),
        ({"colour": "blue"}, "Unknown options"),
    ],
)
def test_clean_options_refuses_bad_values_with_a_message(raw, message):
    with pytest.raises(ValidationError) as error:
        registry["sales_orders"].clean_options(raw)

    assert message in " ".join(error.value.messages)


def test_int_option_range():
    option = Option(key="n", label="Batch", type=int, default=5, min_value=1, max_value=10)

    assert option.clean("7") == 7
    with pytest.raises(ValidationError, match="between 1 and 10"):
        option.clean(11)
    with pytest.raises(ValidationError, match="whole number"):
        option.clean("seven")


def test_selection_rules_say_how_to_fix_them(offer_all):
    problems = registry.validate_selection(
        {"purchase_orders": True, "stock_balance": True, "warehouse_module": False}
    )
    assert problems == {
        "purchase_orders": [
            "Purchase orders needs Fortnox warehouse module (Fortnox Lager): switch that on too."
        ]
    }

    problems = registry.validate_selection({"stock_balance": True, "warehouse_module": True})
    assert set(problems) == {"stock_balance", "warehouse_module"}
    assert "cannot run while" in problems["stock_balance"][0]


def test_registry_refuses_duplicate_and_dangling_keys():
    one = Process(key="a", label="A", help_text="", direction=Direction.BOTH, default_enabled=True)
    with pytest.raises(ValueError, match="Duplicate"):
        Registry([one, one])
    dangling = Process(
        key="b",
        label="B",
        help_text="",
        direction=Direction.BOTH,
        default_enabled=True,
        requires=("zzz",),
    )
    with pytest.raises(ValueError, match="unknown process zzz"):
        Registry([dangling])
