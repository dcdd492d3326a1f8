"""POST /sign-customiser/products: the custom integration's Create Product URL."""

from __future__ import annotations

import gc

gc.disable()  # no garbage collection while the cold start loads modules (they live as long as the container)

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from signbridge.inbound_http import install_error_handlers, parse_model
from signbridge.logic.products import record_product
from signbridge.models.signcustomiser import ProductCreated
from signbridge.observability import logger, metrics
from signbridge.roots import products as root
from signbridge.settings import IdMode
from signbridge.signed_request import signed_json
from signbridge.tracing import tracer

root.settings()  # cold start: a missing or malformed setting fails here, by name
app = APIGatewayRestResolver()
install_error_handlers(app)


@app.post("/sign-customiser/products")
@tracer.capture_method
def create_product() -> dict[str, str]:
    settings = root.settings()
    _, body = signed_json(app.current_event, root.integration_secrets(), settings)
    product = parse_model(ProductCreated, body).product
    mapping = record_product(
        product, root.store(), root.id_issuer(), ask_first=settings.external_id_mode is IdMode.PLATFORM
    )
    logger.info("product mapped", extra={"product_id": product.product_id, "external_id": mapping.external_id})
    metrics.add_metric(name="ProductMapped", unit="Count", value=1)
    return {"external_id": mapping.external_id}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


# All the cold start built stays for the container's life: keep it out of every later collection.
gc.freeze()
gc.enable()
