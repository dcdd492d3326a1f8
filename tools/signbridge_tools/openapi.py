"""The API's contract as OpenAPI 3.1, generated from the pydantic models that parse and shape it.

The code is the source of truth; ``openapi.json`` at the repository root is its committed
rendering, and a test fails when the two differ. Regenerate after changing a model or a route::

    python -m signbridge_tools.openapi            # writes <repo>/openapi.json
    python -m signbridge_tools.openapi --check    # exit 1, with a diff summary, when it is stale
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonSchemaMode, SkipJsonSchema, models_json_schema

from signbridge.errors import (
    ConfigurationError,
    Conflict,
    DuplicateKey,
    InvalidUnicode,
    JsonTooDeep,
    MalformedJson,
    NotFound,
    NotStorable,
    NumberOutOfRange,
    PayloadTooLarge,
    PlatformFailed,
    PlatformTimeout,
    SignatureInvalid,
    SignatureMissing,
    SignbridgeError,
    StoreUnavailable,
    TimestampMalformed,
    TimestampStale,
    TooLargeToStore,
    TotalsMismatch,
    UnknownProduct,
    UnsupportedMediaType,
    ValidationFailed,
)
from signbridge.inbound_http import MAX_INTEGER_DIGITS, MAX_JSON_DEPTH
from signbridge.logic.limits import STORED_ITEM_BUDGET_BYTES
from signbridge.logic.orders import ORIGIN_PLATFORM, initial_delivery, order_view
from signbridge.models.events import EventType, OrderEvent
from signbridge.models.items import DeliveryError, DeliveryState, OrderRecord
from signbridge.models.order import ORDER_ID_MAX_LENGTH, ORDER_ID_PATTERN, Order
from signbridge.models.signcustomiser import OrderCreated, ProductCreated
from signbridge.roots import destination_traits
from signbridge.settings import Destination
from signbridge.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER
from signbridge.store import OrderState

REPO_ROOT = Path(__file__).resolve().parents[2]
OPENAPI_PATH = REPO_ROOT / "openapi.json"
REGENERATE = "python -m signbridge_tools.openapi"
REF_TEMPLATE = "#/components/schemas/{model}"
API_KEY_HEADER = "x-api-key"
API_KEY_SCHEME = "ApiKey"


# --- Response models: what the handlers return, for which the layer has no model --------------
def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _omitted(description: str) -> Any:
    """An optional field the response leaves out when unset (it is never ``null``)."""
    return Field(default=None, description=description, json_schema_extra=_no_default)


class ProductAccepted(BaseModel):
    """Answer to the product:created callback: the id the platform will use for the design."""

    external_id: str = Field(description="Stable per Sign Customiser product; the same on every redelivery.")


class WebhookAccepted(BaseModel):
    """Acknowledgement of a webhook delivery (also of a redelivery already recorded)."""

    ok: Literal[True]


class LastError(BaseModel):
    """Why the latest attempt at a destination did not deliver."""

    code: str = Field(
        description="e.g. transient, rejected, mapping_failed, auth_rejected, destination_unconfigured, "
        "credentials_unreadable, in_doubt, retries_exhausted, no_customised_lines, awaiting_payment, "
        "order_cancelled, waiting_for_earlier, not_forwarded, released, order_not_sent, order_not_delivered, "
        "cancel_by_hand, money_unexplained."
    )
    message: str
    status: int | SkipJsonSchema[None] = _omitted("The destination's HTTP status, when it answered.")
    fields: dict[str, list[str]] | list[str] | SkipJsonSchema[None] = _omitted(
        "Fields the destination complained about."
    )


class Unanswered(BaseModel):
    since: str = Field(description="ISO 8601: when the unanswered attempt was sent.")
    step: str | SkipJsonSchema[None] = _omitted("Which request of the delivery (e.g. create_order).")


class DeliveryView(BaseModel):
    """Where the order stands at one destination."""

    destination: Destination
    state: DeliveryState
    attempts: int = Field(ge=0)
    destination_ref: str | SkipJsonSchema[None] = _omitted("The destination's id for the order, once delivered.")
    last_error: LastError | SkipJsonSchema[None] = _omitted(
        "Set when the latest attempt failed, or the delivery was skipped."
    )
    updated_at: str = Field(description="ISO 8601 timestamp of the last change.")
    acknowledged_steps: list[str] | SkipJsonSchema[None] = _omitted(
        "The requests of this delivery the destination answered (e.g. update_order before refund_insurance)."
    )
    unanswered: Unanswered | SkipJsonSchema[None] = _omitted(
        "An attempt was sent and its answer never heard: the destination may have acted on it."
    )
    in_doubt_since: str | SkipJsonSchema[None] = _omitted(
        "ISO 8601, in doubt only: since when a request that must not be sent twice awaits its answer."
    )
    next_attempt_at: str | SkipJsonSchema[None] = _omitted(
        "ISO 8601: when the next attempt is due (retrying, held, or in doubt awaiting confirmation)."
    )


class TimelineEntry(BaseModel):
    """One order event, in the order the events apply, and what each destination did with it."""

    seq: int = Field(ge=1, description="1, 2, ...: the order in which the order's events apply.")
    event_id: str = Field(description="The platform's id of the event.")
    type: EventType
    received_at: str = Field(description="ISO 8601 timestamp of first receipt.")
    deliveries: dict[Destination, DeliveryView] = Field(description="Keyed by destination name.")


class OrderEventView(TimelineEntry):
    """An order event as signbridge recorded it."""

    order_id: str


class Attention(BaseModel):
    """A delivery of the order, or of one of its events, that waits for a person; or what a
    destination said after it accepted the order (``follow_up``)."""

    destination: Destination
    state: DeliveryState = Field(
        description="held, in_doubt, action_required or failed; delivered for a follow-up's outcome."
    )
    event_id: str | SkipJsonSchema[None] = _omitted("The event's id, when it is an event's delivery.")
    follow_up: Literal["problem", "lost", "window_ended"] | SkipJsonSchema[None] = _omitted(
        "Set when what waits is the destination's answer after delivery: a line no supplier makes "
        "(problem), an order the destination has no more (lost), lines not done when the window ended."
    )
    message: str = Field(description="What happened and what to do, for people.")
    command: str = Field(description="The console command that settles it (or lists what to fix).")


class SupplierLine(BaseModel):
    status: str = Field(
        description="The destination's word for the line "
        "(Dropday: completed, pending, ruled, declined, failed, skipped)."
    )
    supplier: str | None = Field(description="The supplier the destination matched, once it did.")
    verdict: Literal["done", "problem", "waiting"] = Field(
        description="What it means: made by a supplier, no supplier makes it as things stand, not decided yet."
    )


class FollowUpError(BaseModel):
    code: str = Field(description="not_found, unauthorized, rate_limited, unavailable, destination_unavailable.")
    message: str


class FollowUpView(BaseModel):
    """What the destination says about the order after accepting it, read on a schedule until its
    lines are final or the window ends."""

    outcome: Literal["following", "problem", "held", "completed", "lost", "window_ended"] = Field(
        description="following: read on the schedule; problem: a line no supplier makes (still read); held: "
        "our credentials were refused; completed: every line done; lost: the destination has no such order; "
        "window_ended: lines not done when the window ended."
    )
    lines: dict[str, SupplierLine] = Field(
        description="By the destination's line id (Dropday: the product external_id)."
    )
    reads: int = Field(ge=0, description="Answered reads so far.")
    reference: str | SkipJsonSchema[None] = _omitted("The destination's id for the order.")
    order_status: str | SkipJsonSchema[None] = _omitted(
        "The destination's status for the whole order (Dropday: e.g. partially_completed)."
    )
    last_read_at: str | SkipJsonSchema[None] = _omitted("ISO 8601: the last answered read.")
    next_read_at: str | SkipJsonSchema[None] = _omitted("ISO 8601: the next read, while it is still read.")
    last_error: FollowUpError | SkipJsonSchema[None] = _omitted("Why the last read got no answer, if it did not.")


class OrderView(BaseModel):
    """An order as signbridge holds it: where it came from and where it stands at each destination."""

    order_id: str
    origin: Literal["platform", "signcustomiser"] = Field(
        description="platform: posted to POST /orders; signcustomiser: an order:created webhook forwarded on."
    )
    received_at: str = Field(description="ISO 8601 timestamp of first receipt.")
    deliveries: dict[Destination, DeliveryView] = Field(description="Keyed by destination name.")
    sign_customiser_order_ids: list[int] = Field(description="Sign Customiser's ids for this order, once known.")
    timeline: list[TimelineEntry] = Field(description="The order's events (paid, cancelled, ...), oldest first.")
    attention: list[Attention] = Field(
        description="What waits for a person, from the order's deliveries and its events': empty when nothing does."
    )
    follow_ups: dict[Destination, FollowUpView] = Field(
        description="After delivery, by destination: each line's supplier status, for destinations that route "
        "an order on after accepting it (Dropday). Empty until such a delivery is delivered."
    )


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable; each response lists the codes it can carry.")
    message: str = Field(description="For people; may change.")
    details: Any = _omitted(
        "What went wrong, when there is more to say. For validation_failed: a list of {field, message, type}."
    )


class ErrorBody(BaseModel):
    """Every error signbridge itself returns."""

    error: ErrorDetail


class GatewayError(BaseModel):
    """An error API Gateway returns before signbridge runs (missing API key, throttling)."""

    model_config = ConfigDict(extra="allow")

    message: str


# Each model once, in the mode it crosses the boundary: requests are validated, responses serialised.
SCHEMA_MODELS: list[tuple[type[BaseModel], JsonSchemaMode]] = [
    (Order, "validation"),
    (ProductCreated, "validation"),
    (OrderCreated, "validation"),
    (ProductAccepted, "serialization"),
    (WebhookAccepted, "serialization"),
    (OrderView, "serialization"),
    (OrderEvent, "validation"),
    (OrderEventView, "serialization"),
    (ErrorBody, "serialization"),
    (GatewayError, "serialization"),
]


# --- Errors: what each code means, so the document can say which a route returns --------------
ERROR_MEANINGS: dict[type[SignbridgeError], str] = {
    MalformedJson: "the body is not valid JSON (or not valid base64, or not UTF-8/16/32)",
    JsonTooDeep: f"objects and arrays nest deeper than {MAX_JSON_DEPTH} levels",
    DuplicateKey: "an object names the same key twice; `details` gives the field path",
    NumberOutOfRange: f"a number is not finite or has over {MAX_INTEGER_DIGITS} digits; `details` gives the field",
    InvalidUnicode: "a string holds a lone UTF-16 surrogate; `details` gives the field",
    TooLargeToStore: f"the stored form would pass {STORED_ITEM_BUDGET_BYTES} bytes; `details` names big fields",
    NotStorable: "the store refused a value as invalid (e.g. a key over its size limit)",
    SignatureMissing: f"`{TIMESTAMP_HEADER}` or `{SIGNATURE_HEADER}` is absent",
    TimestampMalformed: f"`{TIMESTAMP_HEADER}` is not Unix seconds",
    TimestampStale: f"`{TIMESTAMP_HEADER}` is outside the accepted window",
    SignatureInvalid: "the signature does not match the body with any configured secret",
    NotFound: "no such order",
    Conflict: "this id was already used for different content",
    PayloadTooLarge: "the body exceeds the size limit",
    UnsupportedMediaType: "Content-Type is not application/json",
    ValidationFailed: "the body does not match the schema; `details` lists each field path",
    UnknownProduct: "a customised line's external_id was never issued by signbridge",
    TotalsMismatch: "the amounts do not add up; `details` gives expected and received values",
    PlatformFailed: "the platform's product endpoint failed or answered unusably",
    StoreUnavailable: "the order store is unavailable; retry after `Retry-After` seconds",
    ConfigurationError: "a secret or setting this route needs is missing",
    PlatformTimeout: "the platform's product endpoint did not answer in time",
    SignbridgeError: "an unexpected error; it has been logged",
}

JSON_ERRORS = [MalformedJson, JsonTooDeep, DuplicateKey, NumberOutOfRange, InvalidUnicode]
SIGNED_BODY_ERRORS = [
    PayloadTooLarge,
    TooLargeToStore,
    UnsupportedMediaType,
    SignatureMissing,
    TimestampMalformed,
    TimestampStale,
    SignatureInvalid,
    *JSON_ERRORS,
    ValidationFailed,
    NotStorable,
    ConfigurationError,
    StoreUnavailable,
    SignbridgeError,
]
PRODUCT_ERRORS = [*SIGNED_BODY_ERRORS, Conflict, PlatformFailed, PlatformTimeout]
WEBHOOK_ERRORS = SIGNED_BODY_ERRORS  # never 409: a redelivery is acknowledged
# What the platform's (optionally signed) bodies can be refused for, on POST /orders and its events.
PLATFORM_BODY_ERRORS = [
    PayloadTooLarge,
    TooLargeToStore,
    UnsupportedMediaType,
    SignatureMissing,  # only when PLATFORM_ORDERS_SECRET_PARAM is set
    TimestampMalformed,
    TimestampStale,
    SignatureInvalid,
    ConfigurationError,
    *JSON_ERRORS,
    ValidationFailed,
]
CREATE_ORDER_ERRORS = [
    *PLATFORM_BODY_ERRORS,
    UnknownProduct,
    TotalsMismatch,
    NotStorable,
    Conflict,
    StoreUnavailable,
    SignbridgeError,
]
GET_ORDER_ERRORS = [NotFound, ValidationFailed, StoreUnavailable, SignbridgeError]
ORDER_EVENT_ERRORS = [
    *PLATFORM_BODY_ERRORS,
    NotStorable,
    NotFound,
    Conflict,
    StoreUnavailable,
    SignbridgeError,
]
EVENT_EXAMPLE = {
    "id": "evt-refund-1",
    "type": "refunded",
    "occurred_at": "2025-10-24T10:00:00Z",
    "refund": {"lines": [{"line_id": "line-1", "quantity": 1, "amount": 2999}], "shipping": 0, "currency": "USD"},
}
# One example per event type (the request body of POST /orders/{order_id}/events).
EVENT_EXAMPLES: dict[str, dict[str, Any]] = {
    "paid": {"id": "evt-paid-1", "type": "paid", "occurred_at": "2025-10-24T09:30:00Z"},
    "cancelled": {"id": "evt-cancel-1", "type": "cancelled", "reason": "customer asked"},
    "refunded": EVENT_EXAMPLE,
    "fulfilled": {
        "id": "evt-ship-1",
        "type": "fulfilled",
        "fulfilment": {
            "id": "ful-7731",
            "carrier": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
            "lines": [{"line_id": "line-1", "quantity": 1}],
        },
    },
    "shipment_updated": {
        "id": "evt-track-1",
        "type": "shipment_updated",
        "shipment": {"fulfilment_id": "ful-7731", "status": "in_transit", "occurred_at": "2025-10-25T08:00:00Z"},
    },
}
EVENT_VIEW_EXAMPLE = {
    "order_id": "order-123456",
    "seq": 1,
    "event_id": "evt-refund-1",
    "type": "refunded",
    "received_at": "2025-10-24T10:00:01.102934+00:00",
    "deliveries": {
        "dropday": {
            "destination": "dropday",
            "state": "skipped",
            "attempts": 0,
            "last_error": {"code": "not_forwarded", "message": "Dropday documents no update endpoint: recorded only."},
            "updated_at": "2025-10-24T10:00:01.102934+00:00",
        },
        "onward": {
            "destination": "onward",
            "state": "pending",
            "attempts": 0,
            "updated_at": "2025-10-24T10:00:01.102934+00:00",
        },
    },
}

STATUS_TITLES = {
    400: "Malformed body",
    401: "Signature not verified",
    404: "Not found",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable body",
    500: "Internal error",
    502: "Platform failed",
    503: "Unavailable",
    504: "Platform timeout",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def _json(schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"application/json": {"schema": schema, **extra}}


def _error_responses(errors: Iterable[type[SignbridgeError]]) -> dict[str, Any]:
    by_status: dict[int, list[type[SignbridgeError]]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error)
    responses: dict[str, Any] = {}
    for status, group in sorted(by_status.items()):
        lines = "\n".join(f"- `{error.code}`: {ERROR_MEANINGS[error]}" for error in group)
        response: dict[str, Any] = {
            "description": f"{STATUS_TITLES[status]}. `error.code` is one of:\n{lines}",
            "content": _json(_ref("ErrorBody")),
        }
        if StoreUnavailable in group:
            response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
        responses[str(status)] = response
    return responses


def _gateway_responses(*, api_key: bool) -> dict[str, Any]:
    responses = {
        "429": {
            "description": "Throttled by API Gateway (rate, burst or daily quota); retry later.",
            "content": _json(_ref("GatewayError"), example={"message": "Too Many Requests"}),
        }
    }
    if api_key:
        responses["403"] = {
            "description": f"Refused by API Gateway: `{API_KEY_HEADER}` is missing or not a key of the usage plan.",
            "content": _json(_ref("GatewayError"), example={"message": "Forbidden"}),
        }
    return responses


# --- Examples: the documented fixtures, and the order view as the logic renders it ------------
def _fixture(name: str) -> Any:
    return json.loads((REPO_ROOT / "tests" / "fixtures" / name).read_text(encoding="utf-8"))


def _order_view_examples(order: Order) -> tuple[dict[str, Any], dict[str, Any]]:
    """order_view() of the canonical order just accepted, and later, part way through delivery."""
    received = "2025-10-22T00:56:01.204518+00:00"
    record = OrderRecord(
        order_id=order.id,
        origin=ORIGIN_PLATFORM,
        received_at=received,
        body=order.model_dump_json(),
        digest="",
        destinations=[str(d) for d in Destination],
    )
    custom = {line.id for line in order.line_items if line.customised}
    traits = destination_traits()
    accepted = [initial_delivery(order, d.value, traits[d.value], custom, received) for d in Destination]
    later = "2025-10-22T00:56:09.811207+00:00"
    progress = {
        Destination.SIGN_CUSTOMISER: {"state": DeliveryState.DELIVERED, "attempts": 1, "destination_ref": "48213"},
        Destination.DROPDAY: {
            "state": DeliveryState.RETRYING,
            "attempts": 2,
            "last_error": DeliveryError(code="transient", message="Dropday answered 503.", status=503),
        },
        Destination.ONWARD: {"state": DeliveryState.DELIVERED, "attempts": 1, "destination_ref": "ord_9x2k"},
    }
    underway = [d.model_copy(update={**progress[Destination(d.destination)], "updated_at": later}) for d in accepted]
    return (
        order_view(OrderState(order=record, deliveries=accepted)),
        order_view(OrderState(order=record, deliveries=underway, sc_order_ids=[48213])),
    )


# --- The document ---------------------------------------------------------------------------
def _version() -> str:
    with (REPO_ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def build_openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document for the API, as a plain JSON-ready dict."""
    refs, definitions = models_json_schema(SCHEMA_MODELS, ref_template=REF_TEMPLATE)

    def schema(model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return dict(refs[(model, mode)])

    canonical_order = _fixture("canonical_order.json")
    accepted_view, underway_view = _order_view_examples(Order.model_validate(canonical_order))
    for view in (accepted_view, underway_view):
        OrderView.model_validate(view)  # the documented shape still fits what order_view() returns
    OrderEventView.model_validate(EVENT_VIEW_EXAMPLE)
    for example in EVENT_EXAMPLES.values():
        OrderEvent.model_validate(example)

    signed = [
        {"$ref": "#/components/parameters/WebhookTimestamp"},
        {"$ref": "#/components/parameters/WebhookSignature"},
    ]
    order_view_schema = schema(OrderView, "serialization")
    api_key: list[dict[str, list[str]]] = [{API_KEY_SCHEME: []}]

    paths = {
        "/sign-customiser/products": {
            "post": {
                "operationId": "createProduct",
                "tags": ["Sign Customiser"],
                "summary": "Sign Customiser's product:created callback (the Create Product URL)",
                "description": (
                    "Gives a finished design one stable external_id and remembers it. Redeliveries of the same "
                    "product answer the same external_id. Signed by Sign Customiser with the integration secret."
                ),
                "parameters": signed,
                "requestBody": {
                    "required": True,
                    "content": _json(
                        schema(ProductCreated, "validation"),
                        example=_fixture("signcustomiser_product_created.json"),
                    ),
                },
                "responses": {
                    "200": {
                        "description": "The product's external_id.",
                        "content": _json(schema(ProductAccepted, "serialization"), example={"external_id": "sc-1"}),
                    },
                    **_error_responses(PRODUCT_ERRORS),
                    **_gateway_responses(api_key=False),
                },
            }
        },
        "/sign-customiser/webhooks": {
            "post": {
                "operationId": "receiveWebhook",
                "tags": ["Sign Customiser"],
                "summary": "Sign Customiser's webhook subscription deliveries",
                "description": (
                    "Records each delivery once (redeliveries are acknowledged too). The topic is told from the "
                    "body: an `order` object is order:created and must match OrderCreated; any other JSON object "
                    "(product:created, form:submitted, ...) is recorded as it is. Signed with a webhook secret."
                ),
                "parameters": signed,
                "requestBody": {
                    "required": True,
                    "content": _json(
                        {
                            "anyOf": [schema(OrderCreated, "validation"), {"type": "object"}],
                            "description": "An order:created delivery, or a delivery of another topic.",
                        }
                    ),
                },
                "responses": {
                    "200": {
                        "description": "Recorded (or already recorded).",
                        "content": _json(schema(WebhookAccepted, "serialization"), example={"ok": True}),
                    },
                    **_error_responses(WEBHOOK_ERRORS),
                    **_gateway_responses(api_key=False),
                },
            }
        },
        "/orders": {
            "post": {
                "operationId": "createOrder",
                "tags": ["Orders"],
                "summary": "Accept a platform order for forwarding to its destinations",
                "description": (
                    "Idempotent on the order's `id`: posting the same order again answers 200 with where it "
                    "stands; the same id with different content is 409. Money is integer minor units of "
                    "`currency`, and the totals must add up. When the stack sets PlatformOrdersSecretParam, "
                    "the request must also carry the two signature headers (same scheme as Sign Customiser's)."
                ),
                "security": api_key,
                "parameters": [
                    {**param, "required": False}
                    for param in (
                        {
                            "name": TIMESTAMP_HEADER,
                            "in": "header",
                            "schema": {"type": "string", "pattern": "^[0-9]+$"},
                            "description": "Unix seconds; required when platform order signing is on.",
                        },
                        {
                            "name": SIGNATURE_HEADER,
                            "in": "header",
                            "schema": {"type": "string", "minLength": 1},
                            "description": "HMAC-SHA256 with the platform orders secret; required when signing is on.",
                        },
                    )
                ],
                "requestBody": {
                    "required": True,
                    "content": _json(schema(Order, "validation"), example=canonical_order),
                },
                "responses": {
                    "200": {
                        "description": "Already received: the order as it stands.",
                        "content": _json(order_view_schema, example=underway_view),
                    },
                    "202": {
                        "description": "Accepted: deliveries are queued.",
                        "content": _json(order_view_schema, example=accepted_view),
                    },
                    **_error_responses(CREATE_ORDER_ERRORS),
                    **_gateway_responses(api_key=True),
                },
            }
        },
        "/orders/{order_id}/events": {
            "post": {
                "operationId": "postOrderEvent",
                "tags": ["Orders"],
                "summary": "Tell signbridge what happened to an order after checkout",
                "description": (
                    "`paid`, `cancelled`, `refunded` (with `refund`: lines, quantities, amounts in minor units) "
                    "`fulfilled` (with `fulfilment`: carrier, tracking number and URL, lines) or "
                    "`shipment_updated` (with `shipment`: the `fulfilled` event's id as `fulfilment_id` and one of "
                    "Onward's shipment statuses). Idempotent on "
                    "the event's `id`: the same event again answers 200; the same id with different content is "
                    "409. Events apply in the order they are recorded; one that contradicts the order (refunds "
                    "more than was bought, ships an unknown line, pays a cancelled order, names an unknown "
                    "fulfilment) is 422 naming the field; an unknown order is 404. Signed like POST /orders when "
                    "signing is on."
                ),
                "security": api_key,
                "parameters": [
                    {
                        "name": "order_id",
                        "in": "path",
                        "required": True,
                        "description": "The order's id, as posted to POST /orders.",
                        "schema": {"type": "string"},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": _json(
                        schema(OrderEvent, "validation"),
                        examples={kind: {"summary": kind, "value": body} for kind, body in EVENT_EXAMPLES.items()},
                    ),
                },
                "responses": {
                    "200": {
                        "description": "Already recorded: the event as it stands.",
                        "content": _json(schema(OrderEventView, "serialization"), example=EVENT_VIEW_EXAMPLE),
                    },
                    "202": {
                        "description": "Recorded: its deliveries are queued.",
                        "content": _json(schema(OrderEventView, "serialization"), example=EVENT_VIEW_EXAMPLE),
                    },
                    **_error_responses(ORDER_EVENT_ERRORS),
                    **_gateway_responses(api_key=True),
                },
            }
        },
        "/orders/{order_id}": {
            "get": {
                "operationId": "getOrder",
                "tags": ["Orders"],
                "summary": "Where an order stands at each destination",
                "security": api_key,
                "parameters": [
                    {
                        "name": "order_id",
                        "in": "path",
                        "required": True,
                        "description": "The order's id: the platform's `id`, or a forwarded webhook order's id.",
                        "schema": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": ORDER_ID_MAX_LENGTH,
                            "pattern": ORDER_ID_PATTERN,
                        },
                    }
                ],
                "responses": {
                    "200": {"description": "The order.", "content": _json(order_view_schema, example=underway_view)},
                    **_error_responses(GET_ORDER_ERRORS),
                    **_gateway_responses(api_key=True),
                },
            }
        },
    }

    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "signbridge",
            "version": _version(),
            "summary": "Sign Customiser custom integration: product and webhook endpoints, and order forwarding.",
            "description": (
                "Sign Customiser calls the `/sign-customiser/*` routes, signed with "
                f"`{TIMESTAMP_HEADER}` and `{SIGNATURE_HEADER}` (no API key). The merchant's platform calls "
                f"`/orders` with the usage plan's API key in `{API_KEY_HEADER}`. Every error signbridge returns "
                'is `{"error": {"code", "message", "details"}}`; 403 and 429 come from API Gateway itself. '
                f"Generated from the code by `{REGENERATE}`; do not edit by hand."
            ),
        },
        "servers": [
            {
                "url": "https://{api_id}.execute-api.{region}.amazonaws.com/{stage}",
                "description": "The deployed stage (stack output ApiUrl).",
                "variables": {
                    "api_id": {"default": "API_ID", "description": "Stack output ApiId."},
                    "region": {"default": "us-east-1"},
                    "stage": {"default": "v1", "description": "Template parameter StageName."},
                },
            }
        ],
        "tags": [
            {"name": "Sign Customiser", "description": "Called by Sign Customiser; verified by signature."},
            {"name": "Orders", "description": "Called by the merchant's platform with an API key."},
        ],
        "paths": paths,
        "components": {
            "schemas": definitions["$defs"],
            "securitySchemes": {
                API_KEY_SCHEME: {
                    "type": "apiKey",
                    "in": "header",
                    "name": API_KEY_HEADER,
                    "description": "The usage plan's API key (stack output ApiKeyId).",
                }
            },
            "parameters": {
                "WebhookTimestamp": {
                    "name": TIMESTAMP_HEADER,
                    "in": "header",
                    "required": True,
                    "description": "Unix seconds when Sign Customiser signed the delivery.",
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                    "example": "1761094509",
                },
                "WebhookSignature": {
                    "name": SIGNATURE_HEADER,
                    "in": "header",
                    "required": True,
                    "description": (
                        "HMAC-SHA256 of the delivery with the shared secret; what is signed and the digest's "
                        "encoding follow the SIGNATURE_SCHEME setting (default `timestamp.body:hex`)."
                    ),
                    "schema": {"type": "string", "minLength": 1},
                },
            },
            "headers": {
                "RetryAfter": {
                    "description": "Seconds to wait before retrying (sent with `store_unavailable`).",
                    "schema": {"type": "integer", "minimum": 0},
                }
            },
        },
    }


# --- Rendering and the command -------------------------------------------------------------
def render(document: dict[str, Any]) -> str:
    """The file's exact text: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def diff_summary(committed: str, generated: str, *, name: str = "openapi.json", max_lines: int = 60) -> str:
    """A unified diff from the committed text to the generated one, cut to ``max_lines``."""
    diff = list(
        difflib.unified_diff(
            committed.splitlines(), generated.splitlines(), f"{name} (committed)", f"{name} (generated)", lineterm=""
        )
    )
    added = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
    shown = diff[:max_lines]
    more = [f"... {len(diff) - max_lines} more diff lines"] if len(diff) > max_lines else []
    return "\n".join([f"{removed} line(s) removed, {added} added:", *shown, *more])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m signbridge_tools.openapi", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OPENAPI_PATH, help="default: <repo>/openapi.json")
    parser.add_argument("--check", action="store_true", help="exit 1 when the file differs from the code")
    args = parser.parse_args(argv)

    generated = render(build_openapi())
    if args.check:
        committed = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if committed == generated:
            print(f"{args.output} is up to date.")
            return 0
        print(f"{args.output} is out of date with the code; regenerate it with `{REGENERATE}`.", file=sys.stderr)
        print(diff_summary(committed, generated, name=args.output.name), file=sys.stderr)
        return 1
    args.output.write_text(generated, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
