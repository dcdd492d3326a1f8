"""POST /orders (platform order intake), POST /orders/{order_id}/events (what happened after
checkout) and GET /orders/{order_id} (where it stands)."""

from __future__ import annotations

import gc

gc.disable()  # no garbage collection while the cold start loads modules (they live as long as the container)

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from signbridge.inbound_http import install_error_handlers, parse_json, parse_model, raw_body
from signbridge.logic.order_events import accept_order_event, event_view
from signbridge.logic.orders import accept_platform_order, find_order, order_view
from signbridge.models.events import OrderEvent
from signbridge.models.order import Order
from signbridge.observability import logger, metrics
from signbridge.roots import orders as root
from signbridge.signed_request import signed_json
from signbridge.tracing import tracer

root.settings()  # cold start: a missing or malformed setting fails here, by name
app = APIGatewayRestResolver()
install_error_handlers(app)


def _platform_body(settings: Any) -> Any:
    """The platform's JSON body: signature-checked first when platform signing is on."""
    secrets = root.platform_order_secrets()
    if secrets:
        return signed_json(app.current_event, secrets, settings)[1]
    return parse_json(raw_body(app.current_event, settings.max_body_bytes))


@app.post("/orders")
@tracer.capture_method
def create_order() -> Response:
    settings = root.settings()
    body = _platform_body(settings)
    order = parse_model(Order, body)
    intake = accept_platform_order(order, root.store(), root.routes())
    logger.info("order received", extra={"order_id": order.id, "new_order": intake.created})
    metrics.add_metric(name="OrderAccepted" if intake.created else "OrderRepeated", unit="Count", value=1)
    return Response(
        status_code=202 if intake.created else 200, content_type="application/json", body=order_view(intake.state)
    )


def _decoded(order_id: str) -> str:
    """The route captures the raw path segment; API Gateway's pathParameters hold it decoded
    (`shop%3A1001` is `shop:1001`)."""
    return (app.current_event.path_parameters or {}).get("order_id", order_id)


@app.post("/orders/<order_id>/events")
@tracer.capture_method
def post_order_event(order_id: str) -> Response:
    order_id = _decoded(order_id)
    settings = root.settings()
    body = _platform_body(settings)
    event = parse_model(OrderEvent, body)
    intake = accept_order_event(order_id, event, root.store(), root.traits())
    logger.info("order event received", extra={"order_id": order_id, "event_id": event.id, "new": intake.created})
    metrics.add_metric(name="OrderEventAccepted" if intake.created else "OrderEventRepeated", unit="Count", value=1)
    return Response(
        status_code=202 if intake.created else 200, content_type="application/json", body=event_view(intake)
    )


@app.get("/orders/<order_id>")
@tracer.capture_method
def get_order(order_id: str) -> dict[str, Any]:
    return order_view(find_order(_decoded(order_id), root.store()))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


# All the cold start built stays for the container's life: keep it out of every later collection.
gc.freeze()
gc.enable()
