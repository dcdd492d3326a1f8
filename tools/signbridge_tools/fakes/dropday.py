"""Fake of Dropday's `POST /api/v1/orders`.

Amounts are decimal numbers in major units, so strings are rejected. A repeated external_id is
answered 200 "Order already exists" and does not create a second order, as documented.
"""

from __future__ import annotations

import hmac
import re
from typing import Any

from .server import (
    FakeServer,
    Request,
    Response,
    all_of,
    at_least,
    date_format,
    is_bool,
    is_number,
    is_object,
    is_str,
    is_str_or_number,
    laravel_errors,
    validate,
)

DEFAULT_API_KEY = "dd-dev-key"
DEFAULT_ACCOUNT_ID = "dd-dev-account"
ORDERS_PATH = "/api/v1/orders"

_amount = all_of(is_number, at_least(0))
ORDER_SCHEMA = {
    "external_id": is_str,
    "source": is_str,
    "test?": is_bool,
    "total": _amount,
    "shipping_cost": _amount,
    "email?": is_str,
    "shipping_address": {
        "first_name": is_str,
        "last_name": is_str,
        "company_name?": is_str,
        "address1": is_str,
        "address2?": is_str,
        "postcode": is_str,
        "city": is_str,
        "state?": is_str,
        "country": is_str,
        "phone?": is_str_or_number,  # documented as Number, the example sends "222 222"
    },
    "shipping?": {
        "name?": is_str,
        "description?": is_str,
        "cost?": _amount,
        "note?": is_str,
        "delivery_date?": date_format("%d-%m-%Y", "must match the format d-m-Y"),
    },
    "products": [
        {
            "external_id": is_str,
            "ean13?": is_str_or_number,  # documented as Number, the example sends a string
            "name": is_str,
            "reference?": is_str,
            "quantity": all_of(is_number, at_least(1)),
            "stock_quantity?": is_number,
            "price": _amount,
            "purchase_price?": _amount,
            "image_url?": is_str,
            "brand?": is_str,
            "category?": is_str,
            "supplier?": is_str,
            "custom?": is_object,
        }
    ],
}


class DropdayFake(FakeServer):
    name = "dropday"

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        account_id: str = DEFAULT_ACCOUNT_ID,
        host: str = "127.0.0.1",
        port: int = 0,
        fail_rate: float = 0.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(host=host, port=port, fail_rate=fail_rate, seed=seed)
        self.api_key, self.account_id = api_key, account_id
        self._next_reference = 1
        self.routes = [("POST", re.compile(re.escape(ORDERS_PATH)), self._create_order)]

    def _reset_extra(self) -> None:
        self._next_reference = 1

    def authenticate(self, req: Request) -> bool:
        key = req.headers.get("api-key", "").encode()
        account = req.headers.get("account-id", "").encode()
        # Evaluate both comparisons (no short-circuit) so neither header leaks via timing.
        return hmac.compare_digest(key, self.api_key.encode()) & hmac.compare_digest(account, self.account_id.encode())

    def _create_order(self, req: Request, _match: Any) -> Response:
        body = req.json
        if problems := validate(body, ORDER_SCHEMA):
            return Response(422, {"message": "Errors", "errors": laravel_errors(problems)})
        if self._find_order(body["external_id"]) is not None:
            return Response(200, {"message": "Order already exists"})
        reference, self._next_reference = self._next_reference, self._next_reference + 1
        answer = {"message": "Order created", "reference": reference}
        self._add_order(body["external_id"], reference, body, answer, test=bool(body.get("test", False)))
        return Response(200, answer)
