"""DynamoDB Local (AWS's own engine) for the tests where conditional writes and transactions
must behave exactly as in AWS: one engine per session, a fresh table from template.yaml per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from signbridge import forwarding_root, roots
from signbridge_tools.dynamodb_local import DynamoDBLocal
from tests.support.template import table_definition


@pytest.fixture
def local_table(dynamodb_local: DynamoDBLocal, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Given the template's table in DynamoDB Local; the code under test is pointed at it by the
    standard AWS_ENDPOINT_URL_DYNAMODB variable, as any boto3 client would be."""
    name = f"signbridge-{uuid.uuid4().hex[:12]}"
    # The same credentials and region as the code under test: DynamoDB Local keeps a separate
    # database per access key and region.
    client = boto3.client("dynamodb", endpoint_url=dynamodb_local.endpoint_url)
    client.create_table(TableName=name, **table_definition())
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local.endpoint_url)
    monkeypatch.setenv("TABLE_NAME", name)
    roots.reset()
    forwarding_root.reset()
    yield client
    client.delete_table(TableName=name)


@pytest.fixture
def local_pipeline(
    aws: None, dynamodb_local: DynamoDBLocal, fakes: Any, configure: Any, lambda_context: Any, monkeypatch
):
    """The whole delivery pipeline in-process: SQS in moto; the table in DynamoDB Local (whose
    transactions, unlike moto's, do not copy the whole table, and whose conditions behave as in
    AWS), its stream read through the Streams API."""
    from tests.support.pipeline import StreamsApi, wire_pipeline

    name = f"signbridge-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local.endpoint_url)
    monkeypatch.setenv("TABLE_NAME", name)
    roots.reset()
    forwarding_root.reset()
    boto3.client("dynamodb").create_table(TableName=name, **table_definition())
    stream = StreamsApi(name, dynamodb_local.endpoint_url)
    return wire_pipeline(configure, fakes, lambda_context, name, stream)


@pytest.fixture
def world(dynamodb_local: DynamoDBLocal, fakes: Any, configure: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The whole pipeline in process on a clock the test moves (tests/support/world.py), with
    Sign Customiser's product 1 mapped to sc-1 as a shopper's finished design would."""
    from tests.support.world import World

    built = World(endpoint_url=dynamodb_local.endpoint_url, fakes=fakes, configure=configure, monkeypatch=monkeypatch)
    assert built.product() == {"external_id": "sc-1"}
    return built
