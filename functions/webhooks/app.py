"""POST /sign-customiser/webhooks: Sign Customiser's webhook subscription deliveries."""

from __future__ import annotations

import gc

gc.disable()  # no garbage collection while the cold start loads modules (they live as long as the container)

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from signbridge.errors import Conflict, PayloadTooLarge, ValidationFailed
from signbridge.inbound_http import install_error_handlers
from signbridge.logic.webhooks import forward_webhook_order, record_webhook
from signbridge.observability import logger, metrics
from signbridge.roots import webhooks as root
from signbridge.signed_request import signed_json
from signbridge.tracing import tracer

root.settings()  # cold start: a missing or malformed setting fails here, by name
app = APIGatewayRestResolver()
install_error_handlers(app)


@app.post("/sign-customiser/webhooks")
@tracer.capture_method
def receive_webhook() -> dict[str, bool]:
    settings = root.settings()
    raw, body = signed_json(app.current_event, root.webhook_secrets(), settings)
    result = record_webhook(raw, body, root.webhooks(), ttl_days=settings.webhook_dedup_ttl_days)
    logger.info(
        "webhook received",
        extra={
            "topic": result.topic,
            "duplicate": result.duplicate,
            "sc_order_id": result.order.order_id if result.order else None,
        },
    )
    metrics.add_metric(name="WebhookDuplicate" if result.duplicate else "WebhookRecorded", unit="Count", value=1)
    if result.order is not None and settings.forward_webhook_orders_to:
        # Also on a duplicate delivery: forwarding is idempotent, and a redelivery after a
        # failure here is how the order still gets forwarded.
        try:
            forward_webhook_order(result.order, root.orders(), root.routes(), root.traits())
        except (ValidationFailed, Conflict, PayloadTooLarge) as exc:
            # The delivery is recorded and acknowledged; refusing it would not make the order
            # any more complete, and a redelivery must never be a 409. Surfaced as an error log
            # and a metric for the operator.
            logger.error(
                "order:created not forwarded",
                extra={"sc_order_id": result.order.order_id, "code": exc.code, "details": exc.details},
            )
            metrics.add_metric(name="WebhookOrderNotForwarded", unit="Count", value=1)
    return {"ok": True}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


# All the cold start built stays for the container's life: keep it out of every later collection.
gc.freeze()
gc.enable()
