"""Scheduled sweeper: re-enqueues overdue deliveries, settles confirmed in-doubt ones, reads the
follow-ups that are due, and publishes the gauges the alarms and the dashboard read (see README,
"Operating it")."""

from __future__ import annotations

import gc

gc.disable()  # no garbage collection while the cold start loads modules (they live as long as the container)

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from signbridge import clock
from signbridge import forwarding_root as root
from signbridge.destinations import Destination
from signbridge.follow_up_settings import FollowUpSettings
from signbridge.logic.follow_up import FollowUps
from signbridge.logic.sweeper import SweepReport, sweep
from signbridge.observability import logger, metrics
from signbridge.tracing import tracer

root.settings()  # cold start: a missing or malformed setting fails here, by name
FollowUpSettings()  # ... and a follow-up setting too
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
    # A follow-up held by refused credentials is a held delivery to the alarm (the key to fix is the same).
    held = sum(report.follow_ups.held.values())
    totals["DeliveriesHeld"] = totals.get("DeliveriesHeld", 0) + held
    for name, value in totals.items():
        unit = MetricUnit.Seconds if name.endswith("Seconds") else MetricUnit.Count
        metrics.add_metric(name=name, unit=unit, value=value)
    metrics.add_metric(name="DeliveriesReenqueued", unit=MetricUnit.Count, value=report.reenqueued)
    metrics.add_metric(name="InDoubtCheckFailed", unit=MetricUnit.Count, value=report.errors)
    metrics.add_metric(name="FollowUpReads", unit=MetricUnit.Count, value=report.follow_ups.reads)
    metrics.add_metric(name="FollowUpsHeld", unit=MetricUnit.Count, value=held)


def _follow_ups() -> FollowUps:
    policy = FollowUpSettings().policy(root.settings().held_retry_seconds)
    return FollowUps(root.store(), lambda name: root.destination(name).supplier, policy)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    queue = root.queue()
    stamp = clock.stamp()
    report = sweep(
        root.store(),
        [d.value for d in Destination],
        queue.enqueue,
        root.forwarder().confirm_in_doubt,
        now=stamp[0],
        grace_seconds=root.settings().sweep_grace_seconds,
        queue_backlog=queue.backlog(),
        follow_ups=_follow_ups(),
        following=[d.value for d in Destination if root.traits(d.value).follows_up],
        at=stamp[1],
    )
    _publish(report)
    summary = {
        "reenqueued": report.reenqueued,
        "confirmed": report.confirmed,
        "oldest_unsettled_seconds": max(report.oldest_unsettled.values(), default=0),
        "awaiting_operator": sum(report.awaiting_operator.values()),
        "queue_backlog": report.backlog,
        "errors": report.errors,
        "follow_up_reads": report.follow_ups.reads,
        "follow_ups_held": sum(report.follow_ups.held.values()),
        "follow_up_outcomes": report.follow_ups.outcomes,
        "counts": {f"{d}#{s}": n for (d, s), n in report.counts.items() if n},
    }
    logger.info("sweep done", extra=summary)
    return summary


# All the cold start built stays for the container's life: keep it out of every later collection.
gc.freeze()
gc.enable()
