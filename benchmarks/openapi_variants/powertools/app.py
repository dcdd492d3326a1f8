"""Powertools' own validation (enable_validation, the body declared as the route's parameter), which
is also what its OpenAPI generation reads. Its request validation runs before any middleware, so
the signature (and size, type, JSON) checks move in front of ``resolve``; its 422 is re-shaped into
signbridge's ``{"error": ...}`` body."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEvent

from signbridge.errors import SignbridgeError, ValidationFailed
from signbridge.inbound_http import error_response, install_error_handlers
from signbridge.models.signcustomiser import ProductCreated
from signbridge.settings import get_settings
from signbridge.signed_request import signed_json

settings = get_settings()
app = APIGatewayRestResolver(enable_validation=True)
install_error_handlers(app)


@app.exception_handler(RequestValidationError)
def _invalid(error: RequestValidationError) -> Response:
    details = [
        {"field": ".".join(str(part) for part in e["loc"][1:]) or "(body)", "message": e["msg"], "type": e["type"]}
        for e in error.errors()
    ]
    return error_response(ValidationFailed("The body does not match the expected schema.", details=details))


@app.post("/sign-customiser/products")
def create_product(body: Annotated[ProductCreated, Body()]) -> dict[str, str]:
    return {"external_id": f"sc-{body.product.product_id}"}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        signed_json(APIGatewayProxyEvent(event), [os.environ["INTEGRATION_SECRET"]], settings)
    except SignbridgeError as error:
        return {
            "statusCode": error.status,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(error.body()),
            "isBase64Encoded": False,
        }
    return app.resolve(event, context)
