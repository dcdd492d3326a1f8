"""One place for the Powertools logger, metrics and tracer every function shares.

The service name and the metrics namespace come from Powertools' own environment variables
(POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE), set in template.yaml.
"""

from __future__ import annotations

import threading

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics()
# Only what every function calls is patched at cold start: AWS SDK calls (DynamoDB, SQS, SSM).
# Without patch_modules the X-Ray SDK imports and patches every library it supports that is
# installed (httpx and sqlite3 here), which cost each function's cold start ~150 ms.
tracer = Tracer(patch_modules=("botocore",))
_metrics_lock = threading.Lock()


def trace_http_clients() -> None:
    """Trace outbound HTTP (httpx), for the functions that call a destination or the platform."""
    tracer.patch(["httpx"])  # a no-op when tracing is disabled; the X-Ray SDK patches a module once


def count(name: str, value: float = 1) -> None:
    """Add to a Count metric from any thread (Powertools' metric set is not thread-safe, and the
    forwarder runs a batch's deliveries on threads)."""
    with _metrics_lock:
        metrics.add_metric(name=name, unit="Count", value=value)
