"""Scheduled sweeper: re-enqueues overdue deliveries, settles confirmed in-doubt ones, and
publishes the gauges the alarms and the dashboard read (see README, "Operating it")."""

from __future__ import annotations

import gc

gc.disable()  # no garbage collection while the cold start loads modules (they live as long as the container)

import time
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from signbridge import forwarding_root as root
from signbridge.destinations import Destination
from signbridge.logic.outbox import DeliveryMessage, message_body
from signbridge.logic.sweeper import SweepReport, sweep
from signbridge.models.items import DeliveryState
from signbridge.observability import logger, metrics
from signbridge.tracing import tracer

root.settings()  # cold start: a missing or malformed setting fails here, by name
root.warm()
sqs = boto3.client("sqs")

GAUGES = {
    DeliveryState.PENDING: "DeliveriesPending",
    DeliveryState.SENDING: "DeliveriesSending",
    DeliveryState.RETRYING: "DeliveriesRetrying",
    DeliveryState.HELD: "DeliveriesHeld",
    DeliveryState.IN_DOUBT: "DeliveriesInDoubt",
    DeliveryState.FAILED: "DeliveriesFailed",
    # Not faults: own gauges, so the held / stuck alarms stay about configuration problems.
    DeliveryState.AWAITING_PAYMENT: "DeliveriesAwaitingPayment",
    DeliveryState.ACTION_REQUIRED: "DeliveriesActionRequired",
}


def _enqueue(message: DeliveryMessage) -> None:
    sqs.send_message(QueueUrl=root.settings().delivery_queue_url, MessageBody=message_body(message))


def _publish(report: SweepReport) -> None:
    """Per destination for the dashboard; totals (no destination) for the alarms."""
    namespace = metrics.namespace
    totals: dict[str, float] = {"OldestUnsettledAgeSeconds": 0, "DeliveriesAwaitingOperator": 0}
    for (destination, state), count in report.counts.items():
        name = GAUGES[state]
        totals[name] = totals.get(name, 0) + count
        with single_metric(name=name, unit=MetricUnit.Count, value=count, namespace=namespace) as metric:
            metric.add_dimension(name="destination", value=destination)
    for destination, age in report.oldest_unsettled.items():
        totals["OldestUnsettledAgeSeconds"] = max(totals["OldestUnsettledAgeSeconds"], age)
        with single_metric(
            name="OldestUnsettledAgeSeconds", unit=MetricUnit.Seconds, value=age, namespace=namespace
        ) as metric:
            metric.add_dimension(name="destination", value=destination)
    for waiting in report.awaiting_operator.values():
        totals["DeliveriesAwaitingOperator"] += waiting
    for name, value in totals.items():
        unit = MetricUnit.Seconds if name.endswith("Seconds") else MetricUnit.Count
        metrics.add_metric(name=name, unit=unit, value=value)
    metrics.add_metric(name="DeliveriesReenqueued", unit=MetricUnit.Count, value=report.reenqueued)
    metrics.add_metric(name="InDoubtCheckFailed", unit=MetricUnit.Count, value=report.errors)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=root.settings().delivery_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    report = sweep(
        root.store(),
        [d.value for d in Destination],
        _enqueue,
        root.forwarder().confirm_in_doubt,
        now=int(time.time()),
        grace_seconds=root.settings().sweep_grace_seconds,
        queue_backlog=int(attributes.get("ApproximateNumberOfMessages", 0)),
    )
    _publish(report)
    summary = {
        "reenqueued": report.reenqueued,
        "confirmed": report.confirmed,
        "oldest_unsettled_seconds": max(report.oldest_unsettled.values(), default=0),
        "awaiting_operator": sum(report.awaiting_operator.values()),
        "queue_backlog": report.backlog,
        "errors": report.errors,
        "counts": {f"{d}#{s}": n for (d, s), n in report.counts.items() if n},
    }
    logger.info("sweep done", extra=summary)
    return summary


# All the cold start built stays for the container's life: keep it out of every later collection.
gc.freeze()
gc.enable()
