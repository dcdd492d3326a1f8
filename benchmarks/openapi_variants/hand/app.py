"""As signbridge validates today: signature, size, type and JSON checks, then the pydantic model,
inside the route; the OpenAPI document is generated separately (signbridge_tools.openapi)."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from signbridge.inbound_http import install_error_handlers, parse_model
from signbridge.models.signcustomiser import ProductCreated
from signbridge.settings import get_settings
from signbridge.signed_request import signed_json

settings = get_settings()
app = APIGatewayRestResolver()
install_error_handlers(app)


@app.post("/sign-customiser/products")
def create_product() -> dict[str, str]:
    _, body = signed_json(app.current_event, [os.environ["INTEGRATION_SECRET"]], settings)
    product = parse_model(ProductCreated, body).product
    return {"external_id": f"sc-{product.product_id}"}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
