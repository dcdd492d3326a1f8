"""No dual-write loss: the deliveries of an order written just before the process died still
reach the queue, because the table's stream is the outbox (there is no second write to lose)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

import boto3
import pytest

from signbridge import forwarding_root, roots
from tests.conftest import load_function
from tests.support.events import fixture
from tests.support.template import ROOT

pytestmark = pytest.mark.dynamodb_local


class RecordingQueue:
    """Stands in for SQS at the boto3 boundary: what the outbox sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, QueueUrl: str, MessageBody: str) -> dict[str, str]:
        self.sent.append(json.loads(MessageBody))
        return {"MessageId": str(len(self.sent))}


def stream_records(client_kwargs: dict[str, Any], table_name: str) -> list[dict[str, Any]]:
    ddb = boto3.client("dynamodb", **client_kwargs)
    streams = boto3.client("dynamodbstreams", **client_kwargs)
    arn = ddb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in streams.get_records(ShardIterator=iterator)["Records"]:
            record["dynamodb"]["ApproximateCreationDateTime"] = int(
                record["dynamodb"]["ApproximateCreationDateTime"].timestamp()
            )
            record["eventSourceARN"] = arn
            records.append(record)
    return records


def test_a_process_killed_right_after_the_write_loses_no_delivery(
    local_table, dynamodb_local, tmp_path, monkeypatch, lambda_context
):
    # Given a platform order (no custom lines, so Sign Customiser's delivery is skipped at intake)
    order = fixture("canonical_order.json")
    for line in order["line_items"]:
        line["customised"] = False
    (tmp_path / "order.json").write_text(json.dumps(order))

    # When the intake process is killed the instant the order's transaction returns
    result = subprocess.run(
        [sys.executable, "-m", "tests.integration.crash_after_write", str(tmp_path / "order.json")],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    assert "survived" not in result.stdout

    # Then the stream still carries the pending deliveries, and the outbox enqueues each one.
    queue = RecordingQueue()
    outbox = load_function("outbox")
    monkeypatch.setenv("DELIVERY_QUEUE_URL", "http://queue.local/deliveries")
    roots.reset()
    monkeypatch.setattr(outbox.root, "sqs", lambda: queue)
    records = stream_records({"endpoint_url": dynamodb_local.endpoint_url}, forwarding_root.settings().table_name)
    response = outbox.handler({"Records": records}, lambda_context)

    assert response["batchItemFailures"] == []
    assert sorted(queue.sent, key=lambda m: m["destination"]) == [
        {"destination": "dropday", "order_id": "order-123456", "gen": 0},
        {"destination": "onward", "order_id": "order-123456", "gen": 0},
    ]
