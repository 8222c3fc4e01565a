"""Forms of the Metrics page: they read what an admin sent; the services and the sandbox decide.

Fields are named as the services name their errors (`name`, `sql`, `variables`), so that
`apikeys.forms.add_service_errors` puts a refusal next to the field it is about.
"""

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

MAX_DESCRIPTION = 2_000
MAX_VARIABLES_TEXT = 20_000
VARIABLES_EXAMPLE = '{"eventName": "signup", "rowLimit": 100}'


class JsonObjectField(forms.CharField):
    """A JSON object typed as text (blank is `{}`); anything else is an error on this field."""

    widget = forms.Textarea

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return json.dumps(value, indent=2, ensure_ascii=False) if value else "{}"
        return value

    def to_python(self, value: Any) -> dict[str, Any]:
        text = super().to_python(value)
        if not text.strip():
            return {}
        if len(text) > MAX_VARIABLES_TEXT:  # checked here: the cleaned value is a dict
            raise ValidationError(
                "Keep the variables to %(limit)d characters or fewer.",
                code="max_length",
                params={"limit": MAX_VARIABLES_TEXT},
            )
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError) as error:
            problem = getattr(error, "msg", "nested too deeply")
            raise ValidationError(
                "This is not valid JSON (%(problem)s). Write an object, e.g. %(example)s.",
                code="invalid_json",
                params={"problem": problem, "example": VARIABLES_EXAMPLE},
            ) from None
        if not isinstance(parsed, dict):
            raise ValidationError(
                "Variables are a JSON object of names and values, e.g. %(example)s.",
                code="not_an_object",
                params={"example": VARIABLES_EXAMPLE},
            )
        return parsed


class MetricForm(forms.Form):
    """A metric's name, description, SQL and variables with their defaults.

    `version` is the version the edit page showed: a save over a newer version is refused, so
    that one admin does not silently undo another's edit.
    """

    name = forms.CharField(required=False)
    description = forms.CharField(required=False, max_length=MAX_DESCRIPTION)
    # Not stripped: the sandbox's line and column numbers must match the text the admin sees.
    sql = forms.CharField(required=False, strip=False, widget=forms.Textarea)
    variables = JsonObjectField()
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)


class RunForm(forms.Form):
    """Values for the metric's variables in one test run; those left out keep their defaults."""

    variables = JsonObjectField()


class MetricDeleteForm(forms.Form):
    """A delete, which happens only once the admin has confirmed it."""

    confirm = forms.CharField(required=False, widget=forms.HiddenInput)

    @property
    def confirmed(self) -> bool:
        return self.is_valid() and self.cleaned_data["confirm"] == "yes"
