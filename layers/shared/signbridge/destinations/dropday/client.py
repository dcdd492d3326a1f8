"""Dropday POST /api/v1/orders, and the reads after it: GET /api/v1/orders/{reference} and GET
/api/v1/orders?external_id= (headers api-key and account-id)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx

from signbridge.destinations.dropday.models import DropdayOrder
from signbridge.outbound_http import classify_common, json_or_none, make_client, post, retry_after_seconds
from signbridge.outcomes import Accepted, Duplicate, Outcome
from signbridge.ports import LineVerdict, ReadKind, SupplierLine, SupplierReading

# Dropday's line statuses (its words, not delivery states): what each means for the merchant.
# `partially_completed` describes an order whose lines differ, never a line.
_LINE_VERDICTS = {
    "completed": LineVerdict.DONE,
    "declined": LineVerdict.PROBLEM,
    "failed": LineVerdict.PROBLEM,
    "skipped": LineVerdict.PROBLEM,
    "pending": LineVerdict.WAITING,
    "ruled": LineVerdict.WAITING,
}


def _fields(body: Any) -> Any:
    return body.get("errors") if isinstance(body, dict) else None


def classify(response: httpx.Response) -> Outcome:
    if response.status_code in (200, 201):
        body = json_or_none(response)
        body = body if isinstance(body, dict) else {}
        reference = body.get("reference")
        reference = None if reference is None else str(reference)
        # Dropday answers 200 to a repeat of the same external_id: a duplicate is not an error.
        if "already exists" in str(body.get("message", "")).lower():
            return Duplicate(reference)
        return Accepted(reference)
    return classify_common(response, _fields)


class DropdayClient:
    def __init__(self, base_url: str, api_key: str, account_id: str, timeout_seconds: float):
        self.http = make_client(base_url, {"api-key": api_key, "account-id": account_id}, timeout_seconds)

    def create_order(self, order: DropdayOrder) -> Outcome:
        return post(self.http, "/api/v1/orders", order, classify)

    def read_order(self, order_id: str, reference: str | None) -> SupplierReading:
        """The order's lines now; found by its external_id (our order id) when no reference is known
        (Dropday's "Order already exists" answer carries none)."""
        if reference is None:
            found = self._get("/api/v1/orders", {"external_id": order_id, "include_test": "true", "per_page": "1"})
            if isinstance(found, SupplierReading):
                return found
            data = found.get("data") if isinstance(found, dict) else None
            first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else None
            if first is None or first.get("reference") is None:
                return SupplierReading(ReadKind.NOT_FOUND, message=f"no Dropday order with external_id {order_id!r}")
            reference = str(first["reference"])
        answer = self._get(f"/api/v1/orders/{reference}", None)
        if isinstance(answer, SupplierReading):
            return answer if answer.reference else replace(answer, reference=reference)
        return _reading(answer, reference)

    def _get(self, path: str, params: dict[str, str] | None) -> Any:
        """The answer's JSON body, or the reading that says why there is none."""
        try:
            response = self.http.get(path, params=params)
        except httpx.HTTPError as exc:
            return SupplierReading(ReadKind.UNAVAILABLE, message=f"no answer: {type(exc).__name__}")
        body = json_or_none(response)
        status = response.status_code
        message = str(body.get("error") or body.get("message")) if isinstance(body, dict) else f"HTTP {status}"
        if status == 200:
            return body
        if status == 404:
            return SupplierReading(ReadKind.NOT_FOUND, message=message, status=status)
        if status in (401, 403):
            return SupplierReading(ReadKind.UNAUTHORIZED, message=message, status=status)
        after = retry_after_seconds(response.headers.get("retry-after"))
        if status == 429:
            return SupplierReading(ReadKind.RATE_LIMITED, message=message, status=status, retry_after=after)
        return SupplierReading(ReadKind.UNAVAILABLE, message=message, status=status, retry_after=after)


def _reading(body: Any, reference: str) -> SupplierReading:
    order = body.get("data") if isinstance(body, dict) else None
    if not isinstance(order, dict):
        return SupplierReading(ReadKind.UNAVAILABLE, reference, message="an answer without the order in data")
    lines: dict[str, SupplierLine] = {}
    for n, product in enumerate(order.get("products") or []):
        if not isinstance(product, dict):
            continue
        status = str(product.get("current_status") or "pending")
        supplier = product.get("supplier")
        line_id = str(product.get("external_id") or n)
        verdict = _LINE_VERDICTS.get(status, LineVerdict.WAITING)
        lines[line_id] = SupplierLine(status, None if supplier is None else str(supplier), verdict)
    whole = order.get("status")
    return SupplierReading(ReadKind.READ, reference, order_status=None if whole is None else str(whole), lines=lines)
