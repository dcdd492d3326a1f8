"""The HTTP mechanics every destination client shares: one pooled httpx client, exact JSON
numbers for Decimal amounts, and the mapping of transport failures to outcomes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import simplejson
from pydantic import BaseModel

from signbridge.outcomes import AuthRejected, Outcome, Rejected, Transient


def make_client(base_url: str, headers: dict[str, str], timeout_seconds: float) -> httpx.Client:
    # One client per destination, reused across invocations of a warm container (keep-alive).
    return httpx.Client(
        base_url=base_url.rstrip("/"),
        headers={"Accept": "application/json", "Content-Type": "application/json", **headers},
        timeout=httpx.Timeout(timeout_seconds, connect=min(3.0, timeout_seconds)),
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        # Connection attempts that fail before anything is sent are safe to repeat at once.
        transport=httpx.HTTPTransport(retries=1),
    )


def encode(body: BaseModel) -> bytes:
    # simplejson writes Decimal as a JSON number with its exact digits (435.45, never 435.4499…).
    return simplejson.dumps(body.model_dump(mode="python", exclude_none=True), use_decimal=True).encode()


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def post(client: httpx.Client, path: str, body: BaseModel, classify: Callable[[httpx.Response], Outcome]) -> Outcome:
    return send(client, "POST", path, body, classify)


def send(
    client: httpx.Client,
    method: str,
    path: str,
    body: BaseModel | None,
    classify: Callable[[httpx.Response], Outcome],
) -> Outcome:
    try:
        response = client.request(method, path, content=b"{}" if body is None else encode(body))
    except httpx.ConnectError as exc:
        return Transient(f"connection failed: {type(exc).__name__}")
    except httpx.TimeoutException as exc:
        # A connect or pool timeout sent nothing; a read/write timeout may have been acted on.
        sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
        return Transient(f"timed out: {type(exc).__name__}", maybe_delivered=sent)
    except httpx.HTTPError as exc:
        return Transient(f"connection lost: {type(exc).__name__}", maybe_delivered=True)
    return classify(response)


def classify_common(response: httpx.Response, fields: Callable[[Any], Any]) -> Outcome:
    """The rules every destination shares for answers that are not its own success or duplicate."""
    status = response.status_code
    body = json_or_none(response)
    message = body.get("message") if isinstance(body, dict) and isinstance(body.get("message"), str) else None
    if status in (401, 403, 404, 405):
        return AuthRejected(status, message or f"HTTP {status}: check the destination's URL and credentials")
    if status == 429:
        return Transient(
            "rate limited (429)", status=status, retry_after=retry_after_seconds(response.headers.get("retry-after"))
        )
    if status in (400, 409, 410, 413, 422) or (400 <= status < 500 and status != 408):
        return Rejected(status, message or f"HTTP {status}", fields(body))
    return Transient(
        f"HTTP {status}", status=status, retry_after=retry_after_seconds(response.headers.get("retry-after"))
    )
