"""Onward POST /api/v1/orders, and after checkout PATCH /api/v1/orders/{shopOrderId},
PATCH /api/v1/orders/{id}/refund_insurance, POST /api/v1/shipments and
POST /api/v1/shipments/{id}/events (header X-API-Key)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from signbridge.destinations.onward.models import OnwardOrder, OnwardShipment, OnwardShipmentEvent
from signbridge.outbound_http import classify_common, json_or_none, make_client, post, send
from signbridge.outcomes import Accepted, Duplicate, Outcome, Transient


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


def classify_update(shop_order_id: str) -> Any:
    def classify(response: httpx.Response) -> Outcome:
        if response.status_code in (200, 201, 204):
            return Accepted(shop_order_id)
        return classify_common(response, _fields)

    return classify


def classify_insurance_refund(shop_order_id: str) -> Any:
    def classify(response: httpx.Response) -> Outcome:
        if response.status_code in (200, 201, 204):
            return Accepted(f"{shop_order_id}: insurance refunded")
        if response.status_code in (409, 422):
            # "Not every order is eligible: check the status code": nothing left to retry.
            return Accepted(f"{shop_order_id}: insurance not refunded (HTTP {response.status_code}, not eligible)")
        return classify_common(response, _fields)

    return classify


def classify_shipment(shipment_id: str) -> Any:
    def classify(response: httpx.Response) -> Outcome:
        if response.status_code in (200, 201):
            body = json_or_none(response)
            reference = body.get("id") if isinstance(body, dict) else None
            return Accepted(str(reference or shipment_id))
        if response.status_code == 409:  # the shipment exists: a duplicate, not an error
            return Duplicate(shipment_id)
        return classify_common(response, _fields)

    return classify


def classify_shipment_event(shipment_id: str, status: str) -> Any:
    def classify(response: httpx.Response) -> Outcome:
        if response.status_code in (200, 201):
            body = json_or_none(response)
            reference = body.get("id") if isinstance(body, dict) else None
            return Accepted(str(reference or f"{shipment_id}: {status}"))
        if response.status_code == 404:
            # The shipment is not at Onward (yet): its own delivery may still be on its way. Nothing
            # was recorded, so trying again later is safe; the retry horizon bounds it.
            return Transient("the shipment is not at Onward yet (404)", status=404)
        # No duplicate rule is documented for events: a 409 is a refusal like any other 4xx.
        return classify_common(response, _fields)

    return classify


class OnwardClient:
    def __init__(self, base_url: str, api_key: str, timeout_seconds: float):
        self.http = make_client(base_url, {"X-API-Key": api_key}, timeout_seconds)

    def create_order(self, order: OnwardOrder) -> Outcome:
        return post(self.http, "/api/v1/orders", order, classify_for(order.shop_order_id))

    def update_order(self, order: OnwardOrder) -> Outcome:
        path = f"/api/v1/orders/{quote(order.shop_order_id, safe='')}"
        return send(self.http, "PATCH", path, order, classify_update(order.shop_order_id))

    def refund_insurance(self, shop_order_id: str) -> Outcome:
        path = f"/api/v1/orders/{quote(shop_order_id, safe='')}/refund_insurance"
        return send(self.http, "PATCH", path, None, classify_insurance_refund(shop_order_id))

    def create_shipment(self, shipment: OnwardShipment) -> Outcome:
        return post(self.http, "/api/v1/shipments", shipment, classify_shipment(shipment.shop_shipment_id))

    def create_shipment_event(self, shipment_id: str, event: OnwardShipmentEvent) -> Outcome:
        path = f"/api/v1/shipments/{quote(shipment_id, safe='')}/events"
        return post(self.http, path, event, classify_shipment_event(shipment_id, event.status))
