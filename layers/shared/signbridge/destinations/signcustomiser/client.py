"""Sign Customiser POST /api/v2/orders (Bearer token)."""

from __future__ import annotations

from typing import Any

import httpx

from signbridge.destinations.signcustomiser.models import ScCreateOrderRequest, ScCreateOrderResponse
from signbridge.outbound_http import classify_common, json_or_none, make_client, post
from signbridge.outcomes import Accepted, Duplicate, Outcome, Transient


def _laravel_fields(body: Any) -> Any:
    # Not published; the backend is Laravel, whose 422 is {"message", "errors": {field: [..]}}.
    return body.get("errors") if isinstance(body, dict) else None


def classify(response: httpx.Response) -> Outcome:
    if response.status_code in (200, 201):
        try:
            created = ScCreateOrderResponse.model_validate(json_or_none(response))
        except ValueError:
            return Transient("answered 200 without an order_id", status=response.status_code, maybe_delivered=True)
        return Accepted(str(created.order.order_id))
    if response.status_code == 409:  # not documented; if it comes, it can only mean "already have it"
        return Duplicate(None)
    return classify_common(response, _laravel_fields)


class SignCustomiserClient:
    def __init__(self, base_url: str, api_token: str, timeout_seconds: float):
        self.http = make_client(base_url, {"Authorization": f"Bearer {api_token}"}, timeout_seconds)

    def create_order(self, request: ScCreateOrderRequest) -> Outcome:
        return post(self.http, "/api/v2/orders", request, classify)
