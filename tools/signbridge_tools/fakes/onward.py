"""Fake of Onward's `POST /api/v1/orders` and `PATCH /api/v1/orders/{shop_order_id}`, and of
what comes after checkout: `PATCH /api/v1/orders/{id}/refund_insurance`, `POST /api/v1/shipments`,
`PATCH /api/v1/shipments/{id}` and `POST /api/v1/shipments/{id}/events`.

A repeated shop_order_id is 409 with an empty body (documented). PATCH takes "the same body" but is
validated as a partial update: the fields it sends must be well formed, only `financial_status` is
required (the "updating orders" guide). Shipments answer 201 / 404 (unknown order or shipment) /
409 (a shipment with that id exists) / 422; their fields are not in the stored contract, so the
fake checks the ones signbridge sends (models/onward.py, OnwardShipment). Shipment events have no
documented duplicate rule: the fake records every event it is sent, a repeat included, so a test
sees a second post as a second event.
"""

from __future__ import annotations

import copy
import hmac
import re
from typing import Any, ClassVar
from urllib.parse import unquote

from .server import (
    FakeServer,
    Request,
    Response,
    all_of,
    at_least,
    is_bool,
    is_int,
    is_str,
    iso8601,
    matches,
    one_of,
    validate,
)

DEFAULT_API_KEY = "onward-dev-key"
ORDERS_PATH = "/api/v1/orders"
SHIPMENTS_PATH = "/api/v1/shipments"
FINANCIAL_STATUSES = ("pending", "paid", "refunded", "voided")
SHIPMENT_EVENT_STATUSES = (
    "label_printed",
    "label_purchased",
    "attempted_delivery",
    "ready_for_pickup",
    "carrier_picked_up",
    "confirmed",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "delayed",
    "failure",
    "picked_up",
)

MONEY = {"cents": is_int, "currency": matches(r"[A-Z]{3}", "must be a 3-letter ISO 4217 code")}
LINE_ITEM = {
    "shop_line_item_id": is_str,
    "shop_product_id": is_str,
    "shop_variant_id": is_str,
    "name": is_str,
    "unit_price": MONEY,
    "total_price": MONEY,
    "total_price_presentment?": MONEY,
    "quantity": all_of(is_int, at_least(1)),
    "image_url": is_str,
    "grams": all_of(is_int, at_least(0)),
    "is_insured": is_bool,
    "refunded_quantity?": all_of(is_int, at_least(0)),
    "refunded_price?": MONEY,
    "refunded_price_presentment?": MONEY,
}
ORDER_SCHEMA: dict[str, Any] = {
    "shop_order_id": is_str,
    "shop_order_number": is_str,
    **{
        f"{name}{suffix}": MONEY
        for name in (
            "subtotal_price",
            "total_discounts_price",
            "total_shipping_price",
            "total_tax_price",
            "total_price",
        )
        for suffix in ("", "_presentment?")  # each amount is required; its presentment twin is not
    },
    "amount_insured?": MONEY,
    "amount_insured_presentment?": MONEY,
    "purchased_quote_token?": is_str,
    "created_at": iso8601,
    "financial_status": one_of(*FINANCIAL_STATUSES),
    "customer": {
        "shop_customer_id": is_str,
        "first_name": is_str,
        "last_name": is_str,
        "email?": is_str,
        "phone_number?": is_str,
    },
    "shipping_address": {
        "address1": is_str,
        "address2?": is_str,
        "province_code": is_str,
        "city": is_str,
        "postal_code": is_str,
        "country_code": matches(r"[A-Z]{2}", "must be an ISO 3166-1 alpha-2 code"),
    },
    "line_items": [LINE_ITEM],
}

SHIPMENT_SCHEMA: dict[str, Any] = {
    "shop_order_id": is_str,
    "shop_shipment_id": is_str,
    "carrier": is_str,
    "tracking_number": is_str,
    "tracking_url?": is_str,
    "line_items": [{"shop_line_item_id": is_str, "quantity": all_of(is_int, at_least(1))}],
}
SHIPMENT_EVENT_SCHEMA: dict[str, Any] = {"status": one_of(*SHIPMENT_EVENT_STATUSES), "occurred_at?": iso8601}


class OnwardFake(FakeServer):
    name = "onward"
    # The 401 shape is undocumented; mirror their 422 list of messages.
    unauthenticated_body: ClassVar[Any] = {"errors": ["Unauthorized"]}

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        fail_rate: float = 0.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(host=host, port=port, fail_rate=fail_rate, seed=seed)
        self.api_key = api_key
        self.routes = [
            ("POST", re.compile(re.escape(ORDERS_PATH)), self._create_order),
            ("PATCH", re.compile(re.escape(ORDERS_PATH) + r"/(?P<id>[^/]+)/refund_insurance"), self._refund_insurance),
            ("PATCH", re.compile(re.escape(ORDERS_PATH) + r"/(?P<id>[^/]+)"), self._update_order),
            ("POST", re.compile(re.escape(SHIPMENTS_PATH)), self._create_shipment),
            ("PATCH", re.compile(re.escape(SHIPMENTS_PATH) + r"/(?P<id>[^/]+)"), self._update_shipment),
            ("POST", re.compile(re.escape(SHIPMENTS_PATH) + r"/(?P<id>[^/]+)/events"), self._shipment_event),
        ]
        self.shipments: dict[str, dict[str, Any]] = {}  # by shop_shipment_id; guarded by the lock

    def _reset_extra(self) -> None:
        self.shipments.clear()

    def error_body(self, message: str) -> Any:
        return {"errors": [message]}

    def authenticate(self, req: Request) -> bool:
        return hmac.compare_digest(req.headers.get("x-api-key", "").encode(), self.api_key.encode())

    def _accept_problem(self, req: Request) -> Response | None:
        # The contract marks `Accept: application/json` as required.
        if "application/json" not in req.headers.get("accept", "").lower():
            return Response(406, self.error_body("Accept must be application/json"))
        return None

    def _create_order(self, req: Request, _match: Any) -> Response:
        if bad := self._accept_problem(req):
            return bad
        body = req.json
        if problems := validate(body, ORDER_SCHEMA):
            return Response(422, {"errors": [f"{path} {problem}" for path, problem in problems]})
        if self._find_order(body["shop_order_id"]) is not None:
            return Response(409)
        self._add_order(
            body["shop_order_id"], body["shop_order_id"], body, body, current=copy.deepcopy(body), updates=[]
        )
        return Response(201, body)

    def _update_order(self, req: Request, match: Any) -> Response:
        if bad := self._accept_problem(req):
            return bad
        order = self._find_order(unquote(match["id"]))
        if order is None:
            return Response(404, self.error_body("Order not found"))
        problems = validate(req.json, ORDER_SCHEMA, partial=True)
        if isinstance(req.json, dict) and "financial_status" not in req.json:
            problems.append(("financial_status", "is required"))
        if problems:
            return Response(422, {"errors": [f"{path} {problem}" for path, problem in problems]})
        order["updates"].append(copy.deepcopy(req.json))
        order["current"].update(copy.deepcopy(req.json))
        order["current"]["shop_order_id"] = order["key"]  # the path decides which order this is
        return Response(200, copy.deepcopy(order["current"]))

    def _refund_insurance(self, req: Request, match: Any) -> Response:
        if bad := self._accept_problem(req):
            return bad
        order = self._find_order(unquote(match["id"]))
        if order is None:
            return Response(404, self.error_body("Order not found"))
        if not order["current"].get("purchased_quote_token"):
            return Response(422, self.error_body("Order is not insured"))
        # Onward documents no duplicate rule for this request: each one it receives is a refund.
        order["insurance_refunds"] = order.get("insurance_refunds", 0) + 1
        return Response(200, copy.deepcopy(order["current"]))

    def _create_shipment(self, req: Request, _match: Any) -> Response:
        if bad := self._accept_problem(req):
            return bad
        body = req.json
        if problems := validate(body, SHIPMENT_SCHEMA):
            return Response(422, {"errors": [f"{path} {problem}" for path, problem in problems]})
        order = self._find_order(body["shop_order_id"])
        if order is None:
            return Response(404, self.error_body("Order not found"))
        lines = {line["shop_line_item_id"] for line in order["current"].get("line_items", [])}
        unknown = [line["shop_line_item_id"] for line in body["line_items"] if line["shop_line_item_id"] not in lines]
        if unknown:
            return Response(422, {"errors": [f"line_items shop_line_item_id {u} is not in the order" for u in unknown]})
        if body["shop_shipment_id"] in self.shipments:
            return Response(409)
        shipment = {**copy.deepcopy(body), "id": body["shop_shipment_id"], "events": []}
        self.shipments[body["shop_shipment_id"]] = shipment
        return Response(201, copy.deepcopy(shipment))

    def _update_shipment(self, req: Request, match: Any) -> Response:
        if bad := self._accept_problem(req):
            return bad
        shipment = self.shipments.get(unquote(match["id"]))
        if shipment is None:
            return Response(404, self.error_body("Shipment not found"))
        if problems := validate(req.json, SHIPMENT_SCHEMA, partial=True):
            return Response(422, {"errors": [f"{path} {problem}" for path, problem in problems]})
        shipment.update(copy.deepcopy(req.json))
        return Response(200, copy.deepcopy(shipment))

    def _shipment_event(self, req: Request, match: Any) -> Response:
        if bad := self._accept_problem(req):
            return bad
        shipment = self.shipments.get(unquote(match["id"]))
        if shipment is None:
            return Response(404, self.error_body("Shipment not found"))
        if problems := validate(req.json, SHIPMENT_EVENT_SCHEMA):
            return Response(422, {"errors": [f"{path} {problem}" for path, problem in problems]})
        shipment["events"].append(copy.deepcopy(req.json))
        return Response(201, copy.deepcopy(req.json))
