"""The process registry: each process is declared once, and the settings form, the admin and the
engine are all generated from that declaration."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _


class Direction(StrEnum):
    TO_WAREHOUSE = "fortnox_to_ongoing"
    TO_FORTNOX = "ongoing_to_fortnox"
    BOTH = "both"


DIRECTION_LABELS = {
    Direction.TO_WAREHOUSE: _("Fortnox → warehouse"),
    Direction.TO_FORTNOX: _("Warehouse → Fortnox"),
    Direction.BOTH: _("Both ways"),
}


@dataclass(frozen=True)
class Option:
    key: str
    label: Promise | str
    type: type  # bool, int, str; str with choices is a choice
    default: Any
    help_text: Promise | str = ""
    choices: tuple[tuple[str, Promise | str], ...] = ()
    min_value: int | None = None
    max_value: int | None = None
    warning: Promise | str = ""

    @property
    def is_bool(self) -> bool:
        return self.type is bool

    def clean(self, value: Any) -> Any:
        """The value in its declared type, or ValidationError with a message for the customer."""
        if value is None:
            return self.default
        if self.type is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "on", "off", "1", "0"):
                return value.lower() in ("true", "on", "1")
            raise ValidationError(_("%(label)s must be on or off."), params={"label": self.label})
        if self.type is int:
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise ValidationError(
                    _("%(label)s must be a whole number."), params={"label": self.label}
                ) from None
            if (self.min_value is not None and number < self.min_value) or (
                self.max_value is not None and number > self.max_value
            ):
                raise ValidationError(
                    _("%(label)s must be between %(min)s and %(max)s."),
                    params={"label": self.label, "min": self.min_value, "max": self.max_value},
                )
            return number
        text = str(value).strip()
        if self.choices and text not in {key for key, _label in self.choices}:
            raise ValidationError(
                _("%(value)s is not a choice for %(label)s."),
                params={"value": text, "label": self.label},
            )
        return text


@dataclass(frozen=True)
class Process:
    key: str
    label: Promise | str
    help_text: Promise | str
    direction: Direction
    default_enabled: bool
    options: tuple[Option, ...] = ()
    # Dotted path of `body(context: ProcessContext) -> None`; None until the process is built, and
    # a process without a body is neither offered in settings nor run.
    body: str | None = None
    # Dotted path of `targeted(context, refs: list[str]) -> None`: the same work for the objects an
    # event named instead of a page; None when no event ever names this process's objects.
    targeted: str | None = None
    requires: tuple[str, ...] = ()
    conflicts_with: tuple[str, ...] = ()
    warning: Promise | str = ""

    @property
    def offered(self) -> bool:
        return self.body is not None

    def load_body(self) -> Callable:
        return import_string(self.body)

    def load_targeted(self) -> Callable:
        return import_string(self.targeted)

    def default_options(self) -> dict[str, Any]:
        return {option.key: option.default for option in self.options}

    def clean_options(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Declared options only, each in its type, missing ones at their default."""
        unknown = set(raw) - {option.key for option in self.options}
        if unknown:
            raise ValidationError(
                _("Unknown options for %(process)s: %(keys)s"),
                params={"process": self.label, "keys": ", ".join(sorted(unknown))},
            )
        errors, cleaned = {}, {}
        for option in self.options:
            try:
                cleaned[option.key] = option.clean(raw.get(option.key))
            except ValidationError as error:
                errors[option.key] = error
        if errors:
            raise ValidationError(errors)
        return cleaned


class Registry:
    def __init__(self, processes: list[Process]):
        keys = [process.key for process in processes]
        if len(set(keys)) != len(keys):
            raise ValueError(f"Duplicate process keys in {keys}")
        self._processes = {process.key: process for process in processes}
        for process in processes:
            for other in (*process.requires, *process.conflicts_with):
                if other not in self._processes:
                    raise ValueError(f"{process.key} refers to unknown process {other}")

    def __iter__(self) -> Iterator[Process]:
        return iter(self._processes.values())

    def __contains__(self, key: str) -> bool:
        return key in self._processes

    def __getitem__(self, key: str) -> Process:
        return self._processes[key]

    def offered(self) -> list[Process]:
        return [process for process in self if process.offered]

    def validate_selection(self, enabled: dict[str, bool]) -> dict[str, list]:
        """Cross-process rules, as messages per process key that say how to fix them."""
        errors: dict[str, list] = {}
        for process in self.offered():
            if not enabled.get(process.key):
                continue
            for required in process.requires:
                if not enabled.get(required):
                    errors.setdefault(process.key, []).append(
                        _("%(process)s needs %(required)s: switch that on too.")
                        % {"process": process.label, "required": self[required].label}
                    )
            for conflicting in process.conflicts_with:
                if enabled.get(conflicting):
                    errors.setdefault(process.key, []).append(
                        _("%(process)s cannot run while %(other)s is on: switch one of them off.")
                        % {"process": process.label, "other": self[conflicting].label}
                    )
        return errors
