"""Where a service's refusal lands on a form: the one rule for pages and the admin alike.

Services raise `ValidationError`s whose fields are named as the forms' fields are named, each
with a stable code (`core.errors.field_error`); a form shows each next to its field, or on top.
"""

from django import forms
from django.core.exceptions import ValidationError


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's error on the field it names when the form has that field, else on top."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error)


def error_code(error: ValidationError) -> str | None:
    """The code of a refusal that names no field (e.g. `sent_twice`), else None."""
    if hasattr(error, "error_dict"):
        return None
    codes = [item.code for item in error.error_list]
    return codes[0] if codes else None
