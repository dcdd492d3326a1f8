"""Fake of Dropday's `POST /api/v1/orders`, and of the reads after it: `GET /api/v1/orders` and
`GET /api/v1/orders/{reference}`.

Amounts are decimal numbers in major units, so strings are rejected. A repeated external_id is
answered 200 "Order already exists" and does not create a second order, as documented.

The reads follow what the contract records: a paginated list (`per_page` at most 100, `page`)
filtered by `external_id`, `date_from`/`date_to`, `statuses` and `include_test`; one order by its
reference with each line's `current_status`, its matched supplier and a status log; 401
`{"message": "Unauthorized", "error": ...}` and 404 `{"message": "Not Found", "error": "Order with
reference 'X' not found"}`. What the contract leaves open, the fake fills the way a Laravel API
does, and a client should not rely on more than the documented fields: the answers are wrapped in
`data` (the list with Laravel's `links` and `meta`), `per_page` defaults to 15, dates are `Y-m-d`
(`date_to` takes the whole day), the newest order comes first, test orders are left out unless
`include_test` is true.

Every line starts `pending` with no supplier. A test scripts what Dropday does next with
`script_status(reference, [(at_seconds, line_id, status, supplier), ...])` (or `POST
/_fake/script`): `at_seconds` counts from the order's creation on the fake's `clock`, `line_id` is
the line's product `external_id`. A read shows every change whose time has come, so a test that
moves `clock` watches the order progress. The order's own status follows from its lines: all
lines alike give their status, some completed give `partially_completed`, else the first of
failed, declined, pending, ruled, skipped found among them.
"""

from __future__ import annotations

import copy
import hmac
import math
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from .server import (
    INVALID,
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
ORDER_STATUSES = ("completed", "partially_completed", "failed", "pending", "ruled", "declined", "skipped")
# A line is done or not; `partially_completed` describes an order whose lines differ.
LINE_STATUSES = tuple(s for s in ORDER_STATUSES if s != "partially_completed")
# Which status an order of mixed lines (none completed) shows: the first found among them.
MIXED_ORDER_PRECEDENCE = ("failed", "declined", "pending", "ruled", "skipped")
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 15
# One scripted change: (seconds after the order's creation, line's product external_id, status, supplier).
StatusChange = tuple[float, str, str, "str | None"]

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
    unauthenticated_body: ClassVar[Any] = {"message": "Unauthorized", "error": "Invalid API key or account id."}

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
        self.routes = [
            ("POST", re.compile(re.escape(ORDERS_PATH)), self._create_order),
            ("GET", re.compile(re.escape(ORDERS_PATH)), self._list_orders),
            ("GET", re.compile(re.escape(ORDERS_PATH) + r"/(?P<reference>[^/]+)"), self._show_order),
        ]

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

    # ---- status scripting
    def script_status(self, reference: int | str, changes: Iterable[StatusChange]) -> None:
        """What Dropday does with the order's lines over time: each change applies once the fake's
        clock reaches the order's creation time plus `at_seconds`. Adds to what was scripted
        before; raises ValueError (nothing scripted) for an unknown order, line or status."""
        with self._lock:
            order = self._order_by_reference(str(reference))
            if order is None:
                raise ValueError(f"no order with reference {reference!r}")
            lines = {str(p["external_id"]) for p in order["request"]["products"]}
            scripted = [_status_change(change, lines) for change in changes]
            order["script"] = sorted([*order.get("script", []), *scripted], key=lambda c: c[0])
            self._changed.notify_all()

    def _extra_control(self, req: Request) -> Response | None:
        if (req.method, req.path.rstrip("/")) != ("POST", "/_fake/script"):
            return None
        body = req.json
        if not isinstance(body, dict) or not isinstance(body.get("changes"), list):
            raise ValueError('send {"reference": R, "changes": [[at_seconds, line_id, status, supplier], ...]}')
        self.script_status(body.get("reference", ""), [tuple(c) if isinstance(c, list) else c for c in body["changes"]])
        return Response(200, {"ok": True})

    # ---- reads
    def _list_orders(self, req: Request, _match: Any) -> Response:
        query, problems = _list_query(req.query)
        if problems:
            errors = laravel_errors(problems)
            return Response(422, {"message": "Errors", "errors": errors})
        now = self.clock()
        views = [self._view(o, now) for o in reversed(self._created)]
        found = [v for v in views if _matches(v, query)]
        per_page, page = query["per_page"], query["page"]
        last_page = max(1, math.ceil(len(found) / per_page))
        shown = found[(page - 1) * per_page : page * per_page]
        for view in shown:
            del view["products"]
        first = (page - 1) * per_page + 1 if shown else None
        path = f"{self.url}{ORDERS_PATH}"
        return Response(
            200,
            {
                "data": shown,
                "links": {
                    "first": f"{path}?page=1",
                    "last": f"{path}?page={last_page}",
                    "prev": f"{path}?page={page - 1}" if page > 1 else None,
                    "next": f"{path}?page={page + 1}" if page < last_page else None,
                },
                "meta": {
                    "current_page": page,
                    "from": first,
                    "last_page": last_page,
                    "path": path,
                    "per_page": per_page,
                    "to": None if first is None else first + len(shown) - 1,
                    "total": len(found),
                },
            },
        )

    def _show_order(self, req: Request, match: Any) -> Response:
        order = self._order_by_reference(match["reference"])
        if order is None:
            error = f"Order with reference '{match['reference']}' not found"
            return Response(404, {"message": "Not Found", "error": error})
        return Response(200, {"data": self._view(order, self.clock())})

    def _order_by_reference(self, reference: str) -> dict[str, Any] | None:
        return next((o for o in self._created if str(o["id"]) == reference), None)

    def _view(self, order: dict[str, Any], now: float) -> dict[str, Any]:
        """The order as Dropday shows it at `now`: every scripted change due by then applied."""
        created = order["created_at"]
        request = order["request"]
        lines: dict[str, dict[str, Any]] = {}
        for product in request["products"]:
            entry = {"status": "pending", "supplier": None, "created_at": _iso(created)}
            lines[str(product["external_id"])] = {
                "external_id": product["external_id"],
                "name": product["name"],
                "quantity": product["quantity"],
                "current_status": "pending",
                "supplier": None,
                "status_log": [entry],
            }
        updated = created
        for at, line_id, status, supplier in order.get("script", []):
            if created + at > now:
                break
            line, updated = lines[line_id], created + at
            line["current_status"], line["supplier"] = status, supplier
            line["status_log"].append({"status": status, "supplier": supplier, "created_at": _iso(updated)})
        products = list(lines.values())
        return {
            "reference": order["id"],
            "external_id": request["external_id"],
            "source": request["source"],
            "status": _order_status([line["current_status"] for line in products]),
            "test": bool(request.get("test", False)),
            "total": request["total"],
            "created_at": _iso(created),
            "updated_at": _iso(updated),
            "products": copy.deepcopy(products),
        }


def _status_change(change: Any, lines: set[str]) -> StatusChange:
    try:
        at, line_id, status, supplier = change
    except (TypeError, ValueError):
        raise ValueError(f"a change is (at_seconds, line_id, status, supplier), got {change!r}") from None
    if is_number(at) or at < 0:
        raise ValueError(f"at_seconds must be a number >= 0, got {at!r}")
    if str(line_id) not in lines:
        raise ValueError(f"the order has no line {line_id!r} (its lines: {', '.join(sorted(lines))})")
    if status not in LINE_STATUSES:
        raise ValueError(f"a line's status is one of {', '.join(LINE_STATUSES)}, got {status!r}")
    if supplier is not None and not isinstance(supplier, str):
        raise ValueError(f"supplier must be a string or None, got {supplier!r}")
    return (float(at), str(line_id), status, supplier)


def _order_status(line_statuses: Sequence[str]) -> str:
    if len(set(line_statuses)) == 1:
        return line_statuses[0]
    if "completed" in line_statuses:
        return "partially_completed"
    return next(s for s in MIXED_ORDER_PRECEDENCE if s in line_statuses)


def _list_query(query: dict[str, list[str]]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The list's filters and page from the query string, or Laravel-style problems."""
    problems: list[tuple[str, str]] = []

    def one(name: str) -> str | None:
        values = query.get(name)
        return values[-1] if values else None

    def integer(name: str, default: int, low: int, high: int | None) -> int:
        text = one(name)
        if text is None:
            return default
        if not text.lstrip("-").isdigit():
            problems.append((name, "must be an integer"))
            return default
        number = int(text)
        if number < low or (high is not None and number > high):
            problems.append((name, f"must be between {low} and {high}" if high else f"must be at least {low}"))
            return default
        return number

    def day(name: str) -> datetime | None:
        text = one(name)
        if text is None:
            return None
        try:
            return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            problems.append((name, "must match the format Y-m-d"))
            return None

    # `statuses=a,b`, `statuses[]=a&statuses[]=b` and `statuses=a&statuses=b` all name a list.
    statuses = [s for v in query.get("statuses", []) + query.get("statuses[]", []) for s in v.split(",") if s]
    problems += [(f"statuses.{i}", INVALID) for i, s in enumerate(statuses) if s not in ORDER_STATUSES]
    include_test = one("include_test")
    if include_test is not None and include_test.lower() not in ("1", "0", "true", "false"):
        problems.append(("include_test", "must be true or false"))
    date_to = day("date_to")
    parsed = {
        "per_page": integer("per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE),
        "page": integer("page", 1, 1, None),
        "external_id": one("external_id"),
        "statuses": set(statuses),
        "date_from": day("date_from"),
        "date_to": None if date_to is None else date_to + timedelta(days=1),  # the whole day
        "include_test": (include_test or "").lower() in ("1", "true"),
    }
    return parsed, problems


def _matches(view: dict[str, Any], query: dict[str, Any]) -> bool:
    created = datetime.fromisoformat(view["created_at"])
    return (
        (query["include_test"] or not view["test"])
        and (query["external_id"] is None or view["external_id"] == query["external_id"])
        and (not query["statuses"] or view["status"] in query["statuses"])
        and (query["date_from"] is None or created >= query["date_from"])
        and (query["date_to"] is None or created < query["date_to"])
    )


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
