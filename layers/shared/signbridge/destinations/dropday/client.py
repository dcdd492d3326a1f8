"""Dropday POST /api/v1/orders (headers api-key and account-id)."""

from __future__ import annotations

from typing import Any

import httpx

from signbridge.destinations.dropday.models import DropdayOrder
from signbridge.outbound_http import classify_common, json_or_none, make_client, post
from signbridge.outcomes import Accepted, Duplicate, Outcome


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
