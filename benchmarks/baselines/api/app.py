"""Baseline API function: Powertools' REST resolver and logger, one pydantic model, one boto3
client; each route validates the JSON body and makes one conditional PutItem."""

from __future__ import annotations

import os
import uuid
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from pydantic import BaseModel, ConfigDict

logger = Logger()
app = APIGatewayRestResolver()
dynamodb = boto3.client("dynamodb")


class Body(BaseModel):
    model_config = ConfigDict(extra="allow")


def put(key: str) -> dict[str, str]:
    Body.model_validate(app.current_event.json_body)
    dynamodb.put_item(
        TableName=os.environ["TABLE_NAME"],
        Item={"PK": {"S": key}, "SK": {"S": "BASELINE"}},
        ConditionExpression="attribute_not_exists(PK)",
    )
    return {"ok": "yes"}


@app.post("/sign-customiser/products")
def products() -> dict[str, str]:
    return put(f"BASELINE#{uuid.uuid4().hex}")


@app.post("/sign-customiser/webhooks")
def webhooks() -> dict[str, str]:
    return put(f"BASELINE#{uuid.uuid4().hex}")


@app.post("/orders")
def orders() -> dict[str, str]:
    return put(f"BASELINE#{uuid.uuid4().hex}")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
