"""Fake of Sign Customiser's `POST /api/v2/orders` (custom integration step 2), its webhook
subscriptions (`GET/POST /api/v2/webhooks`, `GET/PUT/DELETE /api/v2/webhooks/{id}`) and the
signed `order:created` webhook it sends afterwards.

Each subscription has its own `secret`, made by the fake when the subscription is created and
shown with it; an order posted to the API is delivered to every `order:created` subscription,
signed with that subscription's secret (and, for older tests, to the configured `webhook_url`).
The subscription API's answers are not published beyond their fields: the fake wraps them the
way the order endpoint does (`{"webhook": {...}}`, a list as `{"webhooks": [...]}`), answers a
create with 201, a delete with 204, an unknown id with 404 and a bad token with Laravel's 401.

The published contract marks every field optional and documents no errors; the fake follows the
request example strictly (so client bugs surface here rather than in production) and answers in the
Laravel shape the provider notes predict. The real duplicate behaviour is unknown, so every valid POST
creates a new order: a client that double-sends shows up as created_count(external_id) > 1.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from .server import (
    INVALID,
    FakeServer,
    Request,
    Response,
    all_of,
    at_least,
    is_int,
    is_str,
    laravel_errors,
    matches,
    one_of,
    validate,
)

DEFAULT_TOKEN = "sc-dev-token"
DEFAULT_INTEGRATION_ID = 42
ORDERS_PATH = "/api/v2/orders"
WEBHOOKS_PATH = "/api/v2/webhooks"
TOPICS = ("order:created", "product:created", "form:submitted")

ADDRESS = {
    "first_name": is_str,
    "last_name": is_str,
    "company?": is_str,
    "email?": is_str,
    "phone?": is_str,
    "address_1": is_str,
    "address_2?": is_str,
    "city": is_str,
    "province": is_str,
    "postcode": is_str,
    "country": is_str,
}
ORDER_SCHEMA = {
    "integration_id": is_int,
    "external_id": is_str,
    "external_order_number": is_str,
    "currency": all_of(is_str, matches(r"[A-Z]{3}", "must be a 3-letter ISO 4217 code")),
    "billing_address": ADDRESS,
    "shipping_address": ADDRESS,
    "shipping_line": is_str,
    "customer": {"first_name?": is_str, "last_name?": is_str, "email?": is_str, "phone?": is_str},
    "products": [
        {
            "external_id": is_str,
            "quantity": all_of(is_int, at_least(1)),
            "price": all_of(is_int, at_least(0)),  # integer cents
        }
    ],
}


def _http_url(v: Any) -> str | None:
    parts = urlsplit(v) if isinstance(v, str) else None
    return None if parts and parts.scheme in ("http", "https") and parts.netloc else "must be a valid URL"


SUBSCRIPTION_SCHEMA = {"topic": all_of(is_str, one_of(*TOPICS)), "url": all_of(is_str, _http_url)}


def sign_webhook(secret: str, timestamp: str, raw_body: bytes) -> str:
    """hex(HMAC-SHA256(secret, "{timestamp}.{raw_body}")), the documented default scheme."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + raw_body, hashlib.sha256).hexdigest()


class SignCustomiserFake(FakeServer):
    """`known_product_ids=None` accepts any product id; a collection enforces the contract rule that
    each products[].external_id was returned by the merchant's product:created handler."""

    name = "signcustomiser"

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        integration_id: int = DEFAULT_INTEGRATION_ID,
        known_product_ids: Iterable[str] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        on_order_created: Callable[[dict[str, Any]], None] | None = None,
        webhook_timeout: float = 5.0,
        host: str = "127.0.0.1",
        port: int = 0,
        fail_rate: float = 0.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(host=host, port=port, fail_rate=fail_rate, seed=seed)
        self.token, self.integration_id = token, integration_id
        self.known_product_ids: set[str] | None = None
        self.webhook_url: str | None = None
        self.webhook_secret = webhook_secret
        self.on_order_created = on_order_created
        self.webhook_timeout = webhook_timeout
        self._deliveries: list[dict[str, Any]] = []
        self._next_id = 1
        self._subscriptions: dict[int, dict[str, Any]] = {}
        self._next_subscription_id = 1
        one = re.compile(re.escape(WEBHOOKS_PATH) + r"/(?P<id>[^/]+)")
        self.routes = [
            ("POST", re.compile(re.escape(ORDERS_PATH)), self._create_order),
            ("GET", re.compile(re.escape(WEBHOOKS_PATH)), self._list_subscriptions),
            ("POST", re.compile(re.escape(WEBHOOKS_PATH)), self._create_subscription),
            ("GET", one, self._show_subscription),
            ("PUT", one, self._update_subscription),
            ("DELETE", one, self._delete_subscription),
        ]
        self.configure(known_product_ids=known_product_ids, webhook_url=webhook_url)

    # ---- config
    def add_known_products(self, *ids: str) -> None:
        with self._lock:
            self.known_product_ids = (self.known_product_ids or set()) | set(ids)

    def _configure_option(self, key: str, value: Any) -> bool:
        if key == "known_product_ids":
            if value is not None and (isinstance(value, str) or not all(isinstance(i, str) for i in value)):
                raise ValueError("known_product_ids must be a list of strings or null")
            self.known_product_ids = None if value is None else set(value)
        elif key == "webhook_url":
            if value is not None and urlsplit(value).scheme not in ("http", "https"):
                raise ValueError("webhook_url must be an http(s) URL or null")
            self.webhook_url = value
        elif key == "webhook_secret":
            self.webhook_secret = value
        else:
            return False
        return True

    def _config_extra(self) -> dict[str, Any]:
        known = None if self.known_product_ids is None else sorted(self.known_product_ids)
        return {
            "integration_id": self.integration_id,
            "known_product_ids": known,
            "webhook_url": self.webhook_url,
            "webhook_secret": self.webhook_secret,
        }

    def _reset_extra(self) -> None:
        self._deliveries.clear()
        self._next_id = 1

    # ---- webhook inspection
    @property
    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """One entry per delivery attempt: url, headers, body (raw str), status (None on error), error."""
        with self._lock:
            return [dict(d) for d in self._deliveries]

    def wait_for_webhooks(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        self.wait_for(lambda: len(self._deliveries) >= count, timeout)
        return self.webhook_deliveries

    def _extra_control(self, req: Request) -> Response | None:
        if (req.method, req.path.rstrip("/")) == ("GET", "/_fake/webhooks"):
            return Response(200, {"deliveries": self.webhook_deliveries})
        if (req.method, req.path.rstrip("/")) == ("GET", "/_fake/subscriptions"):
            return Response(200, {"subscriptions": self.subscriptions})
        return None

    # ---- webhook subscriptions
    @property
    def subscriptions(self) -> list[dict[str, Any]]:
        """The subscriptions as the API shows them (secrets included), oldest first."""
        with self._lock:
            return [dict(s) for s in self._subscriptions.values()]

    def subscribe(self, topic: str, url: str) -> dict[str, Any]:
        """Create a subscription directly (a test's "given"), as `POST /api/v2/webhooks` would."""
        with self._lock:
            return dict(self._add_subscription(topic, url))

    def _add_subscription(self, topic: str, url: str) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        subscription: dict[str, Any] = {
            "id": self._next_subscription_id,
            "topic": topic,
            "url": url,
            "secret": secrets.token_hex(32),
            "created_at": now,
            "updated_at": now,
        }
        self._subscriptions[subscription["id"]] = subscription
        self._next_subscription_id += 1
        self._changed.notify_all()
        return subscription

    def _list_subscriptions(self, req: Request, _match: Any) -> Response:
        return Response(200, {"webhooks": [dict(s) for s in self._subscriptions.values()]})

    def _create_subscription(self, req: Request, _match: Any) -> Response:
        if problems := validate(req.json, SUBSCRIPTION_SCHEMA):
            errors = laravel_errors(problems)
            return Response(422, {"message": _laravel_summary(errors), "errors": errors})
        return Response(201, {"webhook": dict(self._add_subscription(req.json["topic"], req.json["url"]))})

    def _subscription(self, match: Any) -> dict[str, Any] | None:
        text = match["id"]
        return self._subscriptions.get(int(text)) if text.isdigit() else None

    def _show_subscription(self, req: Request, match: Any) -> Response:
        if (subscription := self._subscription(match)) is None:
            return Response(404, self.error_body("Not Found"))
        return Response(200, {"webhook": dict(subscription)})

    def _update_subscription(self, req: Request, match: Any) -> Response:
        if (subscription := self._subscription(match)) is None:
            return Response(404, self.error_body("Not Found"))
        if problems := validate(req.json, SUBSCRIPTION_SCHEMA, partial=True):
            errors = laravel_errors(problems)
            return Response(422, {"message": _laravel_summary(errors), "errors": errors})
        subscription.update({k: req.json[k] for k in ("topic", "url") if k in req.json})
        subscription["updated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        self._changed.notify_all()
        return Response(200, {"webhook": dict(subscription)})

    def _delete_subscription(self, req: Request, match: Any) -> Response:
        if (subscription := self._subscription(match)) is None:
            return Response(404, self.error_body("Not Found"))
        del self._subscriptions[subscription["id"]]
        self._changed.notify_all()
        return Response(204)

    # ---- API
    def authenticate(self, req: Request) -> bool:
        given = req.headers.get("authorization", "").encode()
        return hmac.compare_digest(given, f"Bearer {self.token}".encode())

    def _create_order(self, req: Request, _match: Any) -> Response:
        body = req.json
        problems = validate(body, ORDER_SCHEMA)
        bad = {p for p, _ in problems}
        if "integration_id" not in bad and body["integration_id"] != self.integration_id:
            problems.append(("integration_id", INVALID))
        if self.known_product_ids is not None and isinstance(body.get("products"), list):
            for i, product in enumerate(body["products"]):
                path = f"products.{i}.external_id"
                if (
                    path not in bad
                    and isinstance(product, dict)
                    and "external_id" in product
                    and product["external_id"] not in self.known_product_ids
                ):
                    problems.append((path, INVALID))
        if problems:
            errors = laravel_errors(problems)
            return Response(422, {"message": _laravel_summary(errors), "errors": errors})

        order_id, self._next_id = self._next_id, self._next_id + 1
        order = {
            "order_id": order_id,
            "external_id": body["external_id"],
            "external_order_number": body["external_order_number"],
            "currency": body["currency"],
            "shipping_line": body["shipping_line"],
            "products": [{k: p[k] for k in ("external_id", "quantity", "price")} for p in body["products"]],
        }
        self._add_order(body["external_id"], order_id, body, {"order": order})
        resp = Response(200, {"order": order})
        if self.on_order_created is not None:  # in-process hook: runs before the client gets its 200
            callback, snapshot = self.on_order_created, json.loads(json.dumps(order))
            resp.before_send.append(lambda: callback(snapshot))
        # Like the real service, each webhook arrives independently of the answer.
        targets = [(s["url"], s["secret"]) for s in self._subscriptions.values() if s["topic"] == "order:created"]
        if self.webhook_url:
            targets.append((self.webhook_url, self.webhook_secret or ""))
        if targets:
            payload = webhook_payload(order_id, body)
            for url, secret in targets:
                deliver = threading.Thread(target=self._deliver, args=(url, secret, payload), daemon=True)
                resp.after_send.append(deliver.start)
        return resp

    def _deliver(self, url: str, secret: str, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "signbridge-fake-signcustomiser",
            "x-webhook-timestamp": timestamp,
            "x-webhook-signature": sign_webhook(secret, timestamp, raw),
        }
        delivery: dict[str, Any] = {
            "url": url,
            "headers": headers,
            "body": raw.decode(),
            "status": None,
            "response_body": None,
            "error": None,
        }
        parts = urlsplit(url)
        conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(parts.netloc, timeout=self.webhook_timeout)
        try:
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn.request("POST", target, body=raw, headers=headers)
            answer = conn.getresponse()
            delivery["status"] = answer.status
            delivery["response_body"] = answer.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as exc:  # no retry policy is published
            delivery["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
        with self._lock:
            self._deliveries.append(delivery)
            self._changed.notify_all()


def webhook_payload(order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """`{"order": {...}}` shaped like the documented order:created example, built from the request.
    Addresses use `state` where the request used `province`; product details the fake cannot know
    (title, images...) get neutral placeholders."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    stamps = {"created_at": now, "updated_at": now}

    def address(a: dict[str, Any]) -> dict[str, Any]:
        out = {("state" if k == "province" else k): v for k, v in a.items()}
        return {**out, **stamps}

    total = sum(p["price"] * p["quantity"] for p in body["products"])
    products = [
        {
            "product_image_url": None,
            "product_id": i,
            "title": f"Product {p['external_id']}",
            "description": "",
            "description_html": "",
            "external_id": p["external_id"],
            "external_data": [],
            "price": p["price"],
            "quantity": p["quantity"],
            "compare_price": None,
            "customiser_id": None,
            "logo_upload_id": None,
            "uploads": [],
            **stamps,
        }
        for i, p in enumerate(body["products"], start=1)
    ]
    return {
        "order": {
            "order_id": order_id,
            "order_number": order_id,
            "external_order_number": body["external_order_number"],
            "external_id": body["external_id"],
            "order_total": total,
            "app_total": total,
            "currency": body["currency"],
            "shipping_line": body["shipping_line"],
            "billing_address": address(body["billing_address"]),
            "shipping_address": address(body["shipping_address"]),
            "customer": {**body["customer"], "external_id": None, **stamps},
            "products": products,
            **stamps,
        }
    }


def _laravel_summary(errors: dict[str, list[str]]) -> str:
    """Laravel's top-level message: the first error plus "(and N more errors)"."""
    first, extra = next(iter(errors.values()))[0], sum(len(v) for v in errors.values()) - 1
    return first if not extra else f"{first} (and {extra} more error{'s' if extra > 1 else ''})"
