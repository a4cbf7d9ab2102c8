"""OpenAPI documentation of the error envelope: 401 and 503 bodies, business codes, headers."""

from drf_spectacular.utils import OpenApiResponse
from drf_standardized_errors.openapi_serializers import ClientErrorEnum, ServerErrorEnum
from rest_framework import serializers

# Every code a 401 can carry: DRF's, simplejwt's (bad header, bad token, user gone or
# deactivated) and ours (wrong credentials, refused refresh token).
AUTH_ERROR_CODES = (
    "not_authenticated",
    "authentication_failed",
    "bad_authorization_header",
    "token_not_valid",
    "user_not_found",
    "user_inactive",
    "no_active_account",
)

# The codes of Django's password validators (AUTH_PASSWORD_VALIDATORS).
PASSWORD_VALIDATOR_CODES = [
    "password_too_similar",
    "password_too_short",
    "password_too_common",
    "password_entirely_numeric",
]

ERROR_DESCRIPTIONS = {
    "400": "Invalid input or a refused business rule; nothing was changed.",
    "401": "Missing, expired, tampered or wrong-type token, or wrong credentials. "
    "The `WWW-Authenticate: Bearer` header names the scheme.",
    "404": "Not found.",
    "405": "Method not allowed.",
    "413": "The body is larger than 64 KiB.",
    "415": "Unsupported media type: send `application/json`.",
    "429": "Too many requests: wait the number of seconds in `Retry-After`.",
    "500": "Unexpected server error; no details are disclosed.",
    "503": "The database did not answer; retry later.",
}


class AuthErrorSerializer(serializers.Serializer):
    """One 401 error."""

    code = serializers.ChoiceField(choices=[(code, code) for code in AUTH_ERROR_CODES])
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class AuthErrorResponseSerializer(serializers.Serializer):
    """The 401 envelope."""

    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = AuthErrorSerializer(many=True)


class UnavailableErrorSerializer(serializers.Serializer):
    """One 503 error."""

    code = serializers.ChoiceField(choices=[("service_unavailable", "service_unavailable")])
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class UnavailableErrorResponseSerializer(serializers.Serializer):
    """The 503 envelope."""

    type = serializers.ChoiceField(choices=ServerErrorEnum.choices)
    errors = UnavailableErrorSerializer(many=True)


def unauthorized_response() -> dict:
    """A 401 entry for `extend_schema(responses=...)` on views that authenticate themselves."""
    return {
        401: OpenApiResponse(AuthErrorResponseSerializer, description=ERROR_DESCRIPTIONS["401"])
    }


def business_errors(**codes_by_status: list[str]) -> dict:
    """`extend_schema(extensions=...)` value naming an endpoint's business error codes."""
    return {
        "x-business-errors": {
            status.lstrip("_"): codes for status, codes in codes_by_status.items()
        }
    }


def _client_error_schema(codes: list[str]) -> dict:
    return {
        "type": "object",
        "properties": {
            "type": {"$ref": "#/components/schemas/ClientErrorEnum"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string", "enum": codes},
                        "detail": {"type": "string"},
                        "attr": {"type": "string", "nullable": True},
                    },
                    "required": ["attr", "code", "detail"],
                },
            },
        },
        "required": ["errors", "type"],
    }


def _pascal(operation_id: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in operation_id.split("_"))


def _add_business_errors(schemas: dict, operation: dict, extra: dict) -> None:
    responses = operation["responses"]
    name = _pascal(operation["operationId"])
    for status, codes in extra.items():
        client_name = f"{name}BusinessError{status}"
        if status == "400":
            schemas[client_name] = _client_error_schema(["parse_error", *codes])
            ref = responses["400"]["content"]["application/json"]["schema"]["$ref"]
            union = schemas[ref.rsplit("/", 1)[-1]]
            client_ref = f"#/components/schemas/{client_name}"
            # The client_error branch of the 400 union was the parse error alone.
            union["oneOf"] = [
                branch
                for branch in union["oneOf"]
                if not branch["$ref"].endswith("/ParseErrorResponse")
            ] + [{"$ref": client_ref}]
            union["discriminator"]["mapping"]["client_error"] = client_ref
        else:
            base = {"404": ["not_found"], "409": []}.get(status, [])
            schemas[client_name] = _client_error_schema([*base, *codes])
            responses[status] = {
                "description": ERROR_DESCRIPTIONS.get(status, ""),
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{client_name}"}}
                },
            }
        responses[status]["description"] = (
            ERROR_DESCRIPTIONS.get(status, "")
            + " Business codes: "
            + ", ".join(f"`{code}`" for code in codes)
            + "."
        ).strip()


def postprocess_error_responses(result, generator, request, public):
    """Adds business codes, descriptions and the WWW-Authenticate and Retry-After headers."""
    schemas = result["components"]["schemas"]
    schemas["ErrorResponse413"] = _client_error_schema(["request_too_large"])
    for operations in result["paths"].values():
        for method, operation in operations.items():
            responses = operation["responses"]
            if method in ("post", "put", "patch"):
                # Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE, refused before any parsing.
                responses["413"] = {
                    "description": ERROR_DESCRIPTIONS["413"],
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ErrorResponse413"}
                        }
                    },
                }
            for status, response in responses.items():
                if status in ERROR_DESCRIPTIONS and not response.get("description"):
                    response["description"] = ERROR_DESCRIPTIONS[status]
            extra = operation.pop("x-business-errors", None)
            if extra:
                _add_business_errors(schemas, operation, extra)
            if "401" in responses:
                responses["401"].setdefault("headers", {})["WWW-Authenticate"] = {
                    "schema": {"type": "string"},
                    "description": 'The authentication scheme: `Bearer realm="api"`.',
                }
            if "429" in responses:
                responses["429"].setdefault("headers", {})["Retry-After"] = {
                    "schema": {"type": "integer"},
                    "description": "Seconds to wait before retrying.",
                }
    return result
