"""Run as a separate process by test_outbox: accept one platform order, then die by SIGKILL the
instant the order's transaction returns, before the process can do anything else."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from signbridge.store.orders import OrderStore
from tests.support.events import api_event
from tests.support.template import ROOT

_create_order = OrderStore.create_order  # the aggregate every store that writes orders inherits it from


def create_then_die(self: OrderStore, *args: Any, **kwargs: Any) -> bool:
    _create_order(self, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


if __name__ == "__main__":
    OrderStore.create_order = create_then_die  # type: ignore[method-assign]
    order = Path(sys.argv[1]).read_bytes()
    # Not tests.conftest: it would reset the environment this process was given.
    spec = importlib.util.spec_from_file_location("orders_app", ROOT / "functions" / "orders" / "app.py")
    assert spec is not None and spec.loader is not None
    orders = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(orders)
    context = SimpleNamespace(
        function_name="orders",
        memory_limit_in_mb=512,
        aws_request_id="crash",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:orders",
    )
    orders.handler(api_event("POST", "/orders", order), context)
    print(json.dumps({"survived": True}))
