"""A Sign Customiser delivery's body, admitted only when its signature verifies."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEvent

from signbridge.inbound_http import parse_json, raw_body
from signbridge.settings import Settings
from signbridge.signature import verify_signature


def signed_json(event: APIGatewayProxyEvent, secrets: list[str], settings: Settings) -> tuple[bytes, Any]:
    raw = raw_body(event, settings.max_body_bytes)
    verify_signature(
        raw,
        event.headers,
        secrets,
        now=time.time(),
        tolerance_seconds=settings.signature_tolerance_seconds,
        scheme=settings.signature_scheme,
    )
    return raw, parse_json(raw)
