"""The Metrics API's own errors, each with a stable code (the shared ones are in `core`)."""

from rest_framework import exceptions, status

from core.exceptions import ApiError


class InvalidClient(ApiError):
    """The API key and client secret are not a live pair: one answer whichever half is wrong.

    Not an AuthenticationFailed: the exchange has no authenticator, and DRF would turn that
    into a 403. The challenge names the scheme the credentials are for.
    """

    status_code = status.HTTP_401_UNAUTHORIZED
    auth_header = 'Bearer realm="metrics"'
    default_code = "invalid_client"
    default_detail = "The environmentApiKey and clientSecret are not a valid Metrics API pair."


class InvalidToken(exceptions.AuthenticationFailed):
    """No Metrics access token, or one that is malformed, unknown, expired or ended by a roll."""

    default_code = "invalid_token"
    default_detail = (
        "Send a valid Metrics access token as “Authorization: Bearer <token>”; "
        "get one from POST /metrics/auth/token."
    )

    def __init__(self, reason: str = "invalid_token", snapshot=None):
        super().__init__(code=self.default_code)
        self.reason = reason
        self.snapshot = snapshot


class MetricNotFound(ApiError):
    """No saved metric has this id in the token's workspace."""

    status_code = status.HTTP_404_NOT_FOUND
    default_code = "metric_not_found"
    default_detail = "No saved metric has this id."


class QueryError(ApiError):
    """A query the sandbox refused or could not run; carries the sandbox's code and status."""

    def __init__(self, error):
        self.status_code = error.status
        self.default_code = error.code
        extra = {}
        if error.position is not None:
            extra = {"line": error.position[0], "column": error.position[1]}
        super().__init__(error.detail, **extra)
