"""The settings form, generated from the process registry."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models import Integration
from .processes import registry as default_registry
from .registry import Option, Process, Registry
from .selectors import process_states
from .services.integrations import integration_settings_update


def _option_field(option: Option) -> forms.Field:
    common = {"label": option.label, "help_text": option.help_text, "required": False}
    if option.type is bool:
        return forms.BooleanField(**common)
    if option.type is int:
        return forms.IntegerField(min_value=option.min_value, max_value=option.max_value, **common)
    if option.choices:
        return forms.ChoiceField(choices=option.choices, **{**common, "required": True})
    return forms.CharField(**common)


class IntegrationSettingsForm(forms.Form):
    interval_minutes = forms.IntegerField(
        label=_("Sync interval (minutes)"),
        min_value=5,
        max_value=1440,
        help_text=_("How often the integration runs. 15 minutes suits most companies."),
    )
    problem_email = forms.EmailField(
        label=_("E-mail address for problems"),
        required=False,
        help_text=_(
            "Where we write when the integration stops or objects keep failing, with a link to "
            "fix it."
        ),
    )

    def __init__(
        self, *args, integration: Integration, registry: Registry = default_registry, **kwargs
    ):
        self.integration = integration
        self.registry = registry
        states = process_states(integration=integration, registry=registry)
        initial = {
            "interval_minutes": integration.interval_minutes,
            "problem_email": integration.problem_email,
        }
        for state in states:
            initial[self.enabled_name(state.process)] = state.enabled
            for option in state.process.options:
                initial[self.option_name(state.process, option)] = state.options[option.key]
        super().__init__(*args, initial=initial, **kwargs)
        self.sections = []
        for state in states:
            process = state.process
            self.fields[self.enabled_name(process)] = forms.BooleanField(
                label=process.label, help_text=process.help_text, required=False
            )
            for option in process.options:
                self.fields[self.option_name(process, option)] = _option_field(option)
            self.sections.append(
                {
                    "process": process,
                    "enabled": self[self.enabled_name(process)],
                    "options": [
                        (self[self.option_name(process, option)], option)
                        for option in process.options
                    ],
                }
            )

    @staticmethod
    def enabled_name(process: Process) -> str:
        return f"{process.key}__enabled"

    @staticmethod
    def option_name(process: Process, option: Option) -> str:
        return f"{process.key}__{option.key}"

    def process_values(self) -> dict:
        return {
            section["process"].key: {
                "enabled": self.cleaned_data.get(self.enabled_name(section["process"]), False),
                "options": {
                    option.key: self.cleaned_data.get(self.option_name(section["process"], option))
                    for option in section["process"].options
                },
            }
            for section in self.sections
        }

    def clean(self):
        cleaned = super().clean()
        enabled = {key: value["enabled"] for key, value in self.process_values().items()}
        for key, messages in self.registry.validate_selection(enabled).items():
            for message in messages:
                self.add_error(self.enabled_name(self.registry[key]), message)
        return cleaned

    def save(self, *, actor) -> list[str]:
        try:
            return integration_settings_update(
                integration=self.integration,
                actor=actor,
                interval_minutes=self.cleaned_data["interval_minutes"],
                problem_email=self.cleaned_data["problem_email"],
                processes=self.process_values(),
                registry=self.registry,
            )
        except ValidationError as error:
            self.add_error(None, error)
            raise
