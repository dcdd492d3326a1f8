"""What every API handler shares: body guards, parsing with field paths, and the error shape.

Order of checks for a request body: size (413), content type (415), then the caller's
signature check on the raw bytes, then JSON (400), then the schema (422).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEvent
from pydantic import BaseModel, ValidationError

from signbridge.errors import (
    MalformedJson,
    NotFound,
    PayloadTooLarge,
    SignbridgeError,
    UnsupportedMediaType,
    ValidationFailed,
)
from signbridge.observability import logger, metrics

Model = TypeVar("Model", bound=BaseModel)


def header(event: APIGatewayProxyEvent, name: str) -> str | None:
    for key, value in (event.headers or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def raw_body(event: APIGatewayProxyEvent, max_bytes: int) -> bytes:
    """The body exactly as the sender wrote it (API Gateway base64-encodes binary bodies)."""
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedJson("The body is not valid base64.") from exc
    else:
        raw = body.encode("utf-8")
    if len(raw) > max_bytes:
        raise PayloadTooLarge(
            f"The body is {len(raw)} bytes; the limit is {max_bytes}.", details={"limit_bytes": max_bytes}
        )
    content_type = (header(event, "content-type") or "").split(";", 1)[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType("Content-Type must be application/json.", details={"received": content_type or None})
    return raw


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        position = getattr(exc, "pos", None)
        raise MalformedJson("The body is not valid JSON.", details={"position": position}) from exc


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(part) for part in error["loc"]) or "(body)",
            "message": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors(include_url=False, include_input=False)
    ]


def parse_model(model: type[Model], data: Any) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("The body does not match the expected schema.", details=field_errors(exc)) from exc


def error_response(error: SignbridgeError) -> Response:
    return Response(
        status_code=error.status,
        content_type="application/json",
        body=json.dumps(error.body()),
        headers=error.headers or None,
    )


def install_error_handlers(app: APIGatewayRestResolver) -> None:
    """Map domain errors to the one JSON error shape; anything unexpected to a bare 500."""

    @app.exception_handler(SignbridgeError)
    def _domain(error: SignbridgeError) -> Response:
        log = logger.error if error.status >= 500 else logger.warning
        log("request refused", extra={"code": error.code, "status": error.status, "details": error.details})
        metrics.add_metric(name=f"Error_{error.code}", unit="Count", value=1)
        return error_response(error)

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return error_response(NotFound("No such route.", details={"path": app.current_event.path}))

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unexpected error")
        return error_response(SignbridgeError("An unexpected error occurred; it has been logged."))
