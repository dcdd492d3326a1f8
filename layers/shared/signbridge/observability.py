"""One place for the Powertools logger and metrics every function shares (the tracer is in
``signbridge.tracing``: the X-Ray SDK is imported only by the functions that trace).

The service name and the metrics namespace come from Powertools' own environment variables
(POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE), set in template.yaml.
"""

from __future__ import annotations

import threading

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()
_metrics_lock = threading.Lock()


def count(name: str, value: float = 1) -> None:
    """Add to a Count metric from any thread (Powertools' metric set is not thread-safe, and the
    forwarder runs a batch's deliveries on threads)."""
    with _metrics_lock:
        metrics.add_metric(name=name, unit="Count", value=value)
