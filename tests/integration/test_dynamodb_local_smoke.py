"""Smoke test: DynamoDB Local (AWS's engine) starts and enforces conditions and transactions.

Needs `npm ci` at the repository root (the jar comes from node_modules) and Java.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from signbridge_tools.dynamodb_local import DynamoDBLocal

pytestmark = pytest.mark.dynamodb_local

TABLE = "smoke"


@pytest.fixture(scope="module")
def ddb() -> Iterator[Any]:
    with DynamoDBLocal() as local:
        client = local.client()
        client.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.get_waiter("table_exists").wait(TableName=TABLE, WaiterConfig={"Delay": 0.2})
        yield client


def _error_code(exc: ClientError) -> str:
    return str(exc.response["Error"]["Code"])


def test_conditional_put_and_transaction_are_enforced(ddb: Any) -> None:
    put = {
        "TableName": TABLE,
        "Item": {"pk": {"S": "order#1"}, "n": {"N": "1"}},
        "ConditionExpression": "attribute_not_exists(pk)",
    }
    ddb.put_item(**put)
    with pytest.raises(ClientError) as second:
        ddb.put_item(**{**put, "Item": {"pk": {"S": "order#1"}, "n": {"N": "2"}}})
    assert _error_code(second.value) == "ConditionalCheckFailedException"
    kept = ddb.get_item(TableName=TABLE, Key={"pk": {"S": "order#1"}}, ConsistentRead=True)["Item"]
    assert kept["n"] == {"N": "1"}

    # Two new items; the second one's condition fails, so neither may be written.
    with pytest.raises(ClientError) as txn:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": {"pk": {"S": "order#2"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": {"pk": {"S": "order#3"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert _error_code(txn.value) == "TransactionCanceledException"
    reasons = [r["Code"] for r in txn.value.response["CancellationReasons"]]
    assert reasons == ["None", "ConditionalCheckFailed"]
    for pk in ("order#2", "order#3"):
        got = ddb.get_item(TableName=TABLE, Key={"pk": {"S": pk}}, ConsistentRead=True)
        assert "Item" not in got, pk
