"""The Integration API's own errors, each with a stable code (the shared ones are in `core`)."""

from rest_framework import status

from core.exceptions import ApiError


class BatchTooLarge(ApiError):
    """A batch holds more events than the limit."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "batch_too_large"
    default_detail = "The batch holds more events than this endpoint accepts."


class ProfileNotFound(ApiError):
    """No profile has this user id in the key's workspace."""

    status_code = status.HTTP_404_NOT_FOUND
    default_code = "profile_not_found"
    default_detail = "No profile has this userId."


class TriggerNotFound(ApiError):
    """No enabled workflow trigger has this id in the key's workspace."""

    status_code = status.HTTP_404_NOT_FOUND
    default_code = "trigger_not_found"
    default_detail = "No enabled workflow trigger has this triggerId."
