"""Scheduled sweeper: re-enqueues overdue deliveries, settles confirmed in-doubt ones, and
publishes the gauges the alarms and the dashboard read (see README, "Operating it")."""

from __future__ import annotations

import gc

gc.disable()  # no garbage collection while the cold start loads modules (they live as long as the container)

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from signbridge import clock
from signbridge import forwarding_root as root
from signbridge.destinations import Destination
from signbridge.logic.sweeper import SweepReport, sweep
from signbridge.observability import logger, metrics
from signbridge.tracing import tracer

root.settings()  # cold start: a missing or malformed setting fails here, by name
root.warm()


def _publish(report: SweepReport) -> None:
    """Per destination for the dashboard; totals (no destination) for the alarms."""
    namespace = metrics.namespace
    totals: dict[str, float] = {"OldestUnsettledAgeSeconds": 0, "DeliveriesAwaitingOperator": 0}
    for (destination, state), count in report.counts.items():
        name = state.gauge  # one per unsettled state (signbridge.lifecycle)
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
    queue = root.queue()
    report = sweep(
        root.store(),
        [d.value for d in Destination],
        queue.enqueue,
        root.forwarder().confirm_in_doubt,
        now=int(clock.now()),
        grace_seconds=root.settings().sweep_grace_seconds,
        queue_backlog=queue.backlog(),
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
