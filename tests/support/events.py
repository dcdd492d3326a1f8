"""API Gateway REST (v1 proxy) events and signed Sign Customiser deliveries, as the gateway sends them."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from signbridge.signature import SignatureScheme, sign
from signbridge_tools.events import api_event as build_api_event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def api_event(
    method: str,
    path: str,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    *,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """The same REST proxy event the committed events/ are built from."""
    raw = body.encode() if isinstance(body, str) else body
    return build_api_event(
        method, path, raw, headers, resource=resource, path_parameters=path_parameters, base64_encoded=base64_encoded
    )


def signed_headers(
    secret: str,
    body: bytes,
    *,
    timestamp: int | None = None,
    scheme: SignatureScheme = SignatureScheme.DEFAULT,
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"x-webhook-timestamp": ts, "x-webhook-signature": sign(secret, ts, body, scheme)}


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None


def response_header(response: dict[str, Any], name: str) -> str | None:
    """A header as API Gateway would send it (REST proxy responses may use multiValueHeaders)."""
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(value)
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower():
            return ",".join(values)
    return None
