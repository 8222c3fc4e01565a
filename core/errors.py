"""Validation errors that services raise and every caller (page, admin, API) can place."""

from django.core.exceptions import ValidationError


def field_error(field_name: str, message: str, code: str) -> ValidationError:
    """A validation error on one field, with a stable code that callers can branch on."""
    return ValidationError({field_name: ValidationError(message, code=code)})
