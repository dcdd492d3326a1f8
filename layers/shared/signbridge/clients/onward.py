"""Onward POST /api/v1/orders (header X-API-Key)."""

from __future__ import annotations

from typing import Any

import httpx

from signbridge.clients.http import classify_common, json_or_none, make_client, post
from signbridge.clients.outcomes import Accepted, Duplicate, Outcome
from signbridge.models.onward import OnwardOrder


def _fields(body: Any) -> Any:
    # The reference says `error`, the guide says `errors`: both are a list of messages.
    if isinstance(body, dict):
        return body.get("errors") or body.get("error")
    return None


def classify_for(shop_order_id: str) -> Any:
    def classify(response: httpx.Response) -> Outcome:
        if response.status_code in (200, 201):
            body = json_or_none(response)
            reference = body.get("shop_order_id") if isinstance(body, dict) else None
            return Accepted(str(reference or shop_order_id))
        if response.status_code == 409:  # an order with this shop_order_id already exists
            return Duplicate(shop_order_id)
        return classify_common(response, _fields)

    return classify


class OnwardClient:
    def __init__(self, base_url: str, api_key: str, timeout_seconds: float):
        self.http = make_client(base_url, {"X-API-Key": api_key}, timeout_seconds)

    def create_order(self, order: OnwardOrder) -> Outcome:
        return post(self.http, "/api/v1/orders", order, classify_for(order.shop_order_id))
