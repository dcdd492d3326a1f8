"""Delivery queue consumer: one message = one order (or one of its events) x one destination.

Wiring only: the queue adapter (signbridge.delivery_queue) handles the batch's messages
concurrently, each through the forwarding engine (signbridge.logic.forwarding), and answers the
event source with the messages to keep.
"""

from __future__ import annotations

import gc

gc.disable()  # no garbage collection while the cold start loads modules (they live as long as the container)

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from signbridge import forwarding_root as root
from signbridge.observability import logger, metrics
from signbridge.tracing import tracer

root.settings()  # cold start: a missing or malformed setting fails here, by name
root.warm()  # boto3 clients are built here, once, not lazily in the worker threads
root.announce_destinations()  # cold start: says once which destinations cannot be used yet


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deliver = root.deliver_within(context.get_remaining_time_in_millis() / 1000)
    return root.queue().handle(event.get("Records", []), deliver, root.replace)


# All the cold start built stays for the container's life: keep it out of every later collection.
gc.freeze()
gc.enable()
