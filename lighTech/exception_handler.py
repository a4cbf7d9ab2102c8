"""Maps every error (DRF, domain, database outage, unexpected) to the API.md envelope."""

import logging

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from drf_standardized_errors.handler import ExceptionHandler as BaseExceptionHandler
from rest_framework import exceptions, status

from lighTech.errors import ApplicationError

WWW_AUTHENTICATE = 'Bearer realm="api"'


logger = logging.getLogger(__name__)


class DomainError(exceptions.APIException):
    """An ApplicationError carried through DRF with its status, code and attr."""

    def __init__(self, error: ApplicationError) -> None:
        super().__init__(detail=error.detail, code=error.code)
        self.status_code = error.status_code
        self.attr = error.attr


class ServiceUnavailable(exceptions.APIException):
    """The database did not answer; the client may retry."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is temporarily unavailable, please retry."
    default_code = "service_unavailable"


class PayloadTooLarge(exceptions.APIException):
    """The body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class ExceptionHandler(BaseExceptionHandler):
    """Adds domain errors and database outages to drf-standardized-errors' handling."""

    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, ApplicationError):
            if exc.field_error:
                detail = exceptions.ErrorDetail(exc.detail, code=exc.code)
                return exceptions.ValidationError({exc.attr: [detail]})
            return DomainError(exc)
        # Connection refused, server restarting, deadlock victim: a retryable 503,
        # never a 500 with the driver's message.
        if isinstance(exc, OperationalError | InterfaceError):
            return ServiceUnavailable()
        if isinstance(exc, RequestDataTooBig):
            return PayloadTooLarge()
        if isinstance(exc, SuspiciousOperation):
            return exceptions.ParseError("The request was refused as malformed.")
        if isinstance(exc, exceptions.AuthenticationFailed) and isinstance(exc.detail, dict):
            return _flat_authentication_failure(exc)
        return super().convert_known_exceptions(exc)

    def should_not_handle(self, exc: Exception) -> bool:
        # Clients get the envelope in every mode; the traceback still reaches the logs.
        return False

    def get_headers(self, exc: exceptions.APIException) -> dict:
        headers = super().get_headers(exc)
        # Every 401 names the scheme to use (RFC 9110), also those of the token endpoints
        # and of domain errors, which DRF's own view code does not annotate.
        if exc.status_code == status.HTTP_401_UNAUTHORIZED:
            headers.setdefault("WWW-Authenticate", WWW_AUTHENTICATE)
        return headers

    def report_exception(self, exc: exceptions.APIException, response) -> None:
        if isinstance(exc, ServiceUnavailable):
            # An outage answers every request with 503: one line each, not a traceback each.
            logger.warning(
                "Database unavailable (%s): 503 for %s",
                type(self.exc).__name__,
                getattr(self.context.get("request"), "path", ""),
            )
            return
        super().report_exception(exc, response)

    def format_exception(self, exc: exceptions.APIException) -> dict:
        data = super().format_exception(exc)
        if isinstance(exc, DomainError):
            data["errors"][0]["attr"] = exc.attr
        return data


def _flat_authentication_failure(exc: exceptions.AuthenticationFailed) -> Exception:
    """simplejwt reports token errors as a dict of detail, code and messages; keep one error."""
    detail = exc.detail.get("detail") or "Authentication failed."
    code = exc.detail.get("code") or exc.default_code
    flat = exceptions.AuthenticationFailed(detail=str(detail), code=str(code))
    flat.auth_header = getattr(exc, "auth_header", None)
    return flat


def error_body(error_type: str, code: str, detail: str, attr: str | None = None) -> dict:
    """The envelope, for responses produced outside DRF views."""
    return {
        "type": error_type,
        "errors": [{"code": code, "detail": detail, "attr": attr}],
    }


def json_not_found(request, exception=None):
    """handler404: unknown URLs answer in the envelope too."""
    detail = "Not found."
    if not request.path.endswith("/"):
        detail = f"Not found. API paths end with a slash: {request.path}/"
    return JsonResponse(error_body("client_error", "not_found", detail), status=404)


def json_bad_request(request, exception=None):
    """handler400."""
    return JsonResponse(error_body("client_error", "bad_request", "Bad request."), status=400)


def json_permission_denied(request, exception=None):
    """handler403."""
    body = error_body("client_error", "permission_denied", "Permission denied.")
    return JsonResponse(body, status=403)


def json_server_error(request):
    """handler500: no traceback or settings ever reach the client."""
    body = error_body("server_error", "error", "A server error occurred.")
    return JsonResponse(body, status=500)
