"""Inbound HTTP, what every API handler shares: body guards, parsing with field paths, and the error shape.

Order of checks for a request body: size (413), content type (415), then the caller's
signature check on the raw bytes, then JSON (400), then what JSON allows but signbridge
cannot hold (422), then the schema (422).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEvent
from pydantic import BaseModel, ValidationError

from signbridge.errors import (
    DuplicateKey,
    InvalidUnicode,
    JsonTooDeep,
    MalformedJson,
    NotFound,
    NumberOutOfRange,
    PayloadTooLarge,
    SignbridgeError,
    UnsupportedMediaType,
    ValidationFailed,
    problem,
)
from signbridge.observability import logger, metrics

Model = TypeVar("Model", bound=BaseModel)

# The deepest documented payload (a webhook order's product uploads) nests 5 levels. Python's
# parser overflows its stack near 1,000, and pydantic refuses to serialise past 255.
MAX_JSON_DEPTH = 32
# DynamoDB numbers carry 38 significant digits; Python refuses to parse past 4,300.
MAX_INTEGER_DIGITS = 38

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


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
        # A str body holding lone surrogates still has bytes; parse_json then refuses them.
        raw = body.encode("utf-8", errors="surrogatepass")
    if len(raw) > max_bytes:
        raise PayloadTooLarge(
            f"The body is {len(raw)} bytes; the limit is {max_bytes}.",
            details=[problem("body", "too large", limit_bytes=max_bytes, received_bytes=len(raw))],
        )
    content_type = (header(event, "content-type") or "").split(";", 1)[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType(
            "Content-Type must be application/json.",
            details=[problem("Content-Type", "must be application/json", received=content_type or None)],
        )
    return raw


def parse_json(raw: bytes) -> Any:
    """The body as JSON, refusing what JSON allows but signbridge cannot hold, by field path:
    nesting past ``MAX_JSON_DEPTH``, integers past ``MAX_INTEGER_DIGITS`` digits, non-finite
    numbers (``NaN``, ``1e999``), duplicate keys (two readers could see two different orders)
    and lone surrogates (``"\\ud800"`` cannot be written as UTF-8)."""
    try:
        text = raw.decode(json.detect_encoding(raw))
    except (UnicodeDecodeError, LookupError) as exc:
        raise MalformedJson(
            "The body is not valid UTF-8.",
            details=[problem("body", "not valid UTF-8", position=getattr(exc, "start", None))],
        ) from exc
    _check_depth(text)
    try:
        data = json.loads(
            text,
            object_pairs_hook=_object,
            parse_int=_integer,
            parse_float=_float,
            parse_constant=lambda literal: _Refused("number", literal),
        )
    except json.JSONDecodeError as exc:
        raise MalformedJson(
            "The body is not valid JSON.", details=[problem("body", "not valid JSON", position=exc.pos)]
        ) from exc
    except RecursionError as exc:  # not reachable past _check_depth; never a 500 all the same
        raise JsonTooDeep(
            "The body nests too deeply.", details=[problem("body", "nests too deeply", limit=MAX_JSON_DEPTH)]
        ) from exc
    _check_values(data, ())
    return data


@dataclass(frozen=True)
class _Refused:
    """Stands in, during parsing, for a value refused later with its field path."""

    kind: str  # "number" or "duplicate"
    literal: str


def _integer(literal: str) -> int | _Refused:
    if len(literal.lstrip("-")) > MAX_INTEGER_DIGITS:
        return _Refused("number", literal)
    return int(literal)


def _float(literal: str) -> float | _Refused:
    value = float(literal)
    return value if math.isfinite(value) else _Refused("number", literal)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any] | _Refused:
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                return _Refused("duplicate", key)
            seen.add(key)
    return data


def _check_depth(text: str) -> None:
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return
    depth = 0
    without_strings = _STRING.sub('""', text)
    for match in _BRACKET.finditer(without_strings):
        depth += 1 if match.group() in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            raise JsonTooDeep(
                f"The body nests more than {MAX_JSON_DEPTH} levels of objects and arrays.",
                details=[
                    {"field": "(body)", "message": f"nesting deeper than {MAX_JSON_DEPTH}", "limit": MAX_JSON_DEPTH}
                ],
            )


def _path(parts: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in parts) or "(body)"


def _check_text(value: str, parts: tuple[str | int, ...]) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidUnicode(
            "A string holds a lone UTF-16 surrogate, which is not Unicode text.",
            details=[{"field": _path(parts), "message": "lone surrogate (e.g. \\ud800)", "position": exc.start}],
        ) from None


def _check_values(value: Any, parts: tuple[str | int, ...]) -> None:
    if isinstance(value, _Refused):
        if value.kind == "duplicate":
            raise DuplicateKey(
                "An object names the same key twice.",
                details=[{"field": _path((*parts, value.literal)), "message": "duplicate key"}],
            )
        shown = value.literal if len(value.literal) <= 50 else f"{value.literal[:20]}...({len(value.literal)} chars)"
        raise NumberOutOfRange(
            "A number is out of the range signbridge can hold.",
            details=[
                {
                    "field": _path(parts),
                    "message": f"{shown} is not a finite number of at most {MAX_INTEGER_DIGITS} digits",
                }
            ],
        )
    if isinstance(value, str):
        _check_text(value, parts)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, (*parts, key))
            _check_values(item, (*parts, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_values(item, (*parts, index))


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
        return error_response(
            NotFound("No such route.", details=[problem("path", "no such route", received=app.current_event.path)])
        )

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unexpected error")
        return error_response(SignbridgeError("An unexpected error occurred; it has been logged."))
