"""Domain exceptions. Each carries the HTTP status and machine-readable code it maps to.

Handlers turn any ``SignbridgeError`` into ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

from typing import Any


def problem(field: str, message: str, **more: Any) -> dict[str, Any]:
    """One entry of an error's ``details``: the field (or header, setting, path) at fault, what
    is wrong with it, and any figures that help (a limit, what was received)."""
    return {"field": field, "message": message, **more}


class SignbridgeError(Exception):
    """``details``, when given, has one shape for every error: a list of ``problem`` entries."""

    status: int = 500
    code: str = "internal_error"

    def __init__(
        self, message: str, details: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        if details is not None and not (
            isinstance(details, list) and all(isinstance(d, dict) and "field" in d for d in details)
        ):
            raise TypeError("details is a list of problem(field, message, ...) entries")
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


# --- Signature (401) -------------------------------------------------------------------
class SignatureError(SignbridgeError):
    status = 401


class SignatureMissing(SignatureError):
    code = "signature_missing"


class TimestampMalformed(SignatureError):
    code = "timestamp_malformed"


class TimestampStale(SignatureError):
    code = "timestamp_stale"


class SignatureInvalid(SignatureError):
    code = "signature_invalid"


# --- Bad input (4xx) -------------------------------------------------------------------
class MalformedJson(SignbridgeError):
    status = 400
    code = "malformed_json"


class JsonTooDeep(MalformedJson):
    code = "json_too_deep"


class DuplicateKey(MalformedJson):
    code = "duplicate_key"


class PayloadTooLarge(SignbridgeError):
    status = 413
    code = "payload_too_large"


class TooLargeToStore(PayloadTooLarge):
    """Within the body limit, but what would be stored passes DynamoDB's 400 KB item size."""

    code = "too_large_to_store"


class UnsupportedMediaType(SignbridgeError):
    status = 415
    code = "unsupported_media_type"


class ValidationFailed(SignbridgeError):
    status = 422
    code = "validation_failed"


class NumberOutOfRange(ValidationFailed):
    code = "number_out_of_range"


class InvalidUnicode(ValidationFailed):
    code = "invalid_unicode"


class NotStorable(ValidationFailed):
    """The store refused a value as invalid (e.g. a key over 2 KB): the input's fault, never a retry."""

    code = "not_storable"


class UnknownProduct(ValidationFailed):
    code = "unknown_product"


class TotalsMismatch(ValidationFailed):
    code = "totals_mismatch"


class NotFound(SignbridgeError):
    status = 404
    code = "not_found"


class Conflict(SignbridgeError):
    status = 409
    code = "conflict"


# --- Dependencies (5xx) ----------------------------------------------------------------
class OrderIdTaken(Conflict):
    """The id names an order another channel created (an order:created webhook forwarded on):
    the platform's order with it would reach no destination."""

    code = "order_id_taken"


class StoreUnavailable(SignbridgeError):
    status = 503
    code = "store_unavailable"

    def __init__(self, message: str = "The order store is unavailable; retry shortly.", retry_after: int = 5):
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class ConfigurationError(SignbridgeError):
    status = 503
    code = "not_configured"


class PlatformFailed(SignbridgeError):
    status = 502
    code = "platform_failed"


class PlatformTimeout(SignbridgeError):
    status = 504
    code = "platform_timeout"
