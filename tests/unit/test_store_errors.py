"""Store: Given DynamoDB refuses a write as invalid, Then the caller gets the input's fault (413
or 422), never store_unavailable (503), which would make senders redeliver it forever."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from signbridge.errors import NotStorable, StoreUnavailable, TooLargeToStore
from signbridge.models.items import WebhookDelivery
from signbridge.store import Store

DELIVERY = WebhookDelivery(
    digest="d", topic="order:created", received_at="2025-10-22T00:00:00Z", body="{}", expires_at=1
)


def store_answering(code: str, message: str, reasons: list[dict[str, str]] | None = None) -> tuple[Store, Any]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    stubber = Stubber(client)
    extra = {"CancellationReasons": reasons} if reasons else None
    stubber.add_client_error(
        "transact_write_items", service_error_code=code, service_message=message, modeled_fields=extra
    )
    stubber.activate()
    return Store("t", client=client), stubber


@pytest.mark.parametrize(
    ("code", "message", "reasons", "error"),
    [
        ("ValidationException", "Item size has exceeded the maximum allowed size", None, TooLargeToStore),
        (
            "ValidationException",
            "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of 2048 bytes",
            None,
            NotStorable,
        ),
        (
            "TransactionCanceledException",
            "Transaction cancelled",
            [{"Code": "ValidationError", "Message": "Item size to update has exceeded the maximum allowed size"}],
            TooLargeToStore,
        ),
        ("ProvisionedThroughputExceededException", "slow down", None, StoreUnavailable),
    ],
    ids=["item-size", "key-size", "cancelled-item-size", "throttled-stays-503"],
)
def test_refusals_map_to_the_inputs_fault_and_outages_to_503(code, message, reasons, error):
    store, _ = store_answering(code, message, reasons)

    with pytest.raises(error) as raised:
        store.record_webhook(DELIVERY, None)

    assert raised.value.status == {TooLargeToStore: 413, NotStorable: 422, StoreUnavailable: 503}[error]
