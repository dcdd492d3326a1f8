"""The Powertools tracer, for the functions that trace (all but the outbox, a stream-to-queue
relay whose one SendMessage is not worth importing the X-Ray SDK for at every cold start).

Only what every traced function calls is patched at cold start: AWS SDK calls (DynamoDB, SQS,
SSM). Without patch_modules the X-Ray SDK imports and patches every library it supports that is
installed (httpx and sqlite3 here), which cost each function's cold start ~150 ms.
"""

from __future__ import annotations

from aws_lambda_powertools import Tracer

tracer = Tracer(patch_modules=("botocore",))


def trace_http_clients() -> None:
    """Trace outbound HTTP (httpx), for the functions that call a destination or the platform."""
    tracer.patch(["httpx"])  # a no-op when tracing is disabled; the X-Ray SDK patches a module once
