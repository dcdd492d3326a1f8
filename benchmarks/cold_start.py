"""Cold start of each function, and its peak memory, against a minimal handler of the same kind.

One cold start = a fresh `python` process that imports the function's ``app.py`` and handles one
request, as a new Lambda container does: sys.path holds the function's folder (app.py alone, as
`sam build` copies it), the layer as `make build-SharedLayer LAYER_TARGET=local` builds it for
this interpreter, and boto3 (which the Lambda runtime provides); nothing may write bytecode
(/opt and /var/task are read-only), tracing is on (the template's ``Tracing: Active``) and the
log level is INFO. Table: DynamoDB Local with the template's table; queue: a loopback stand-in.
The figure is what Lambda reports as Init Duration plus the first Duration: from before
``import app`` to the first response, measured inside the process, as CPU time and as wall time,
median of REPEATS, function and baseline interleaved. The goal is judged on CPU time: on a shared
machine the wall time is mostly waiting for a core (the CPU time is what a Lambda container,
alone on its share of a core, would wait for; the calls to the table are a few ms either way).

The baselines (benchmarks/baselines/) run from the same layer with the same settings:
API: Powertools' REST resolver + logger, a pydantic model, one boto3 client, one PutItem;
SQS: Powertools' batch processor + one client, one GetItem; stream: boto3 + the batch
processor, one SendMessage.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from benchmarks import ROOT
from benchmarks._common import Headline, median, say, table
from benchmarks._lambda_like import (
    build_layer,
    delivery_message,
    pending_delivery_record,
    platform_order,
    product_created,
    seed_products,
    sqs_stand_in,
    webhook_order_created,
    xray_daemon_sink,
)
from signbridge_tools.dynamodb_local import DynamoDBLocal
from signbridge_tools.fakes import DropdayFake
from tests.conftest import BASE_ENV
from tests.support.lambda_runtime import runtime_packages
from tests.support.template import table_definition

REPEATS = 9
GOAL = 1.2
CHILD = Path(__file__).with_name("_cold_child.py")
BASELINES = Path(__file__).with_name("baselines")


@dataclass(frozen=True)
class Function:
    name: str
    kind: str  # its baseline: api, sqs or stream
    event: Callable[[], dict[str, Any]]
    outcome: str  # what the first invocation must answer
    request: str
    label: str = ""  # the row's name, when one function has several rows
    delivers: bool = False  # the first call delivers one order to the Dropday fake

    @property
    def row(self) -> str:
        return self.label or self.name


FUNCTIONS = [
    Function("products", "api", product_created, "200", "signed product:created, new product"),
    Function("webhooks", "api", webhook_order_created, "200", "signed order:created webhook, new order"),
    Function("orders", "api", platform_order, "202", "POST /orders, new order"),
    Function("outbox", "stream", pending_delivery_record, "failures: 0", "1 stream record -> 1 message"),
    Function("forwarder", "sqs", delivery_message, "failures: 0", "1 message, unknown delivery"),
    # The row above loads no destination; in this one every destination is configured and the
    # first call maps the order, loads Dropday's client and sends it to the Dropday fake.
    Function(
        "forwarder",
        "sqs",
        lambda: {},  # made in run(): the order must be in the table first
        "failures: 0",
        "1 message, delivered to Dropday (fake)",
        label="forwarder, delivering",
        delivers=True,
    ),
]


# Every destination configured, as a merchant's deployment has them; only Dropday is delivered to.
DELIVERING_ENV = {
    "DROPDAY_API_KEY": "dd-key",
    "DROPDAY_ACCOUNT_ID": "dd-account",
    "SIGNCUSTOMISER_API_TOKEN": "sc-token",
    "SIGNCUSTOMISER_INTEGRATION_ID": "42",
    "ONWARD_API_KEY": "on-key",
}


def dropday_delivery(dynamodb_url: str) -> dict[str, Any]:
    """A fresh platform order routed to Dropday only, in the table, and the SQS event carrying its
    delivery (as the outbox would send it)."""
    from signbridge import forwarding_root
    from signbridge.logic.orders import ORIGIN_PLATFORM, persist_order
    from signbridge.logic.outbox import DeliveryMessage, message_body
    from signbridge.models.order import Order
    from signbridge.settings import Destination
    from tests.support.events import fixture
    from tests.support.routes import routes

    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = dynamodb_url
    body = fixture("canonical_order.json")
    body["id"] = order_id = f"bench-{uuid.uuid4().hex}"
    store = forwarding_root.store()
    persist_order(Order.model_validate(body), ORIGIN_PLATFORM, routes(Destination.DROPDAY), set(), store)
    message = message_body(DeliveryMessage(order_id, Destination.DROPDAY))
    event = delivery_message()
    event["Records"][0]["body"] = message
    event["Records"][0]["md5OfBody"] = hashlib.md5(message.encode()).hexdigest()  # noqa: S324 - SQS's own checksum
    return event


@dataclass
class Run:
    process_s: float  # the whole process, as the parent sees it (interpreter start and exit too)
    import_s: float
    invoke_s: float
    cpu_s: float  # import + first invocation
    peak_kib: int

    @property
    def cold_s(self) -> float:
        return self.import_s + self.invoke_s


def lambda_environment(folder: Path, endpoints: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "POWERTOOLS_TRACE_DISABLED")}
    env.update(BASE_ENV)
    env.pop("POWERTOOLS_TRACE_DISABLED", None)
    env.update(
        {
            "PYTHONDONTWRITEBYTECODE": "1",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "LAMBDA_TASK_ROOT": str(folder),
            "AWS_LAMBDA_FUNCTION_NAME": f"signbridge-{folder.name}",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
            **endpoints,
        }
    )
    return env


def cold_start(folder: Path, path: list[str], event: dict[str, Any], env: dict[str, str], work: Path) -> Run:
    spec, out = work / "spec.json", work / "out.json"
    spec.write_text(json.dumps({"path": [str(folder), *path], "event": event, "out": str(out)}))
    out.unlink(missing_ok=True)
    log = work / "log.txt"
    with log.open("w") as sink:  # the function's log lines, as CloudWatch would take them
        start = time.perf_counter()
        done = subprocess.run(  # noqa: S603 - this interpreter, our own script
            [sys.executable, "-S", str(CHILD), str(spec)], env=env, stdout=sink, stderr=sink, check=False
        )
        total = time.perf_counter() - start
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"cold start of {folder.name} failed:\n{log.read_text()[-3000:]}")
    result = json.loads(out.read_text())
    result["log"] = log.read_text()
    result["process_s"] = total
    return result  # type: ignore[no-any-return]


def run() -> tuple[list[Headline], list[Headline]]:
    """Headlines for cold start and for peak memory."""
    with (
        tempfile.TemporaryDirectory(prefix="signbridge-bench-") as tmp,
        DynamoDBLocal() as ddb,
        sqs_stand_in() as sqs_url,
        xray_daemon_sink() as xray,
        DropdayFake(api_key="dd-key", account_id="dd-account") as dropday,
    ):
        work = Path(tmp)
        layer = build_layer(work / "layer")
        path = [str(layer), str(runtime_packages(work / "runtime"))]
        client = boto3.client("dynamodb", endpoint_url=ddb.endpoint_url)  # BASE_ENV's account, as the children
        client.create_table(TableName=BASE_ENV["TABLE_NAME"], **table_definition())
        seed_products(client, BASE_ENV["TABLE_NAME"])
        endpoints = {
            "AWS_ENDPOINT_URL_DYNAMODB": ddb.endpoint_url,
            "AWS_ENDPOINT_URL_SQS": sqs_url,
            "DELIVERY_QUEUE_URL": f"{sqs_url}/123456789012/signbridge-deliveries",
            "AWS_XRAY_DAEMON_ADDRESS": xray,
        }
        folders: dict[str, Path] = {}  # app.py alone in its folder, as `sam build` leaves it
        for name, source in [(f.name, ROOT / "functions" / f.name) for f in FUNCTIONS if not f.delivers] + [
            (f"baseline-{kind}", BASELINES / kind) for kind in ("api", "sqs", "stream")
        ]:
            folders[name] = work / "task" / name
            folders[name].mkdir(parents=True)
            shutil.copy(source / "app.py", folders[name] / "app.py")

        runs: dict[tuple[str, str], list[Run]] = {}
        for _ in range(REPEATS):  # interleaved, so drift touches every side alike
            for function in FUNCTIONS:
                for side, folder in (
                    ("function", folders[function.name]),
                    ("baseline", folders[f"baseline-{function.kind}"]),
                ):
                    env = lambda_environment(folder, endpoints)
                    event = function.event()
                    if function.delivers:  # both sides configured alike; only the function delivers
                        env.update(DELIVERING_ENV, DROPDAY_BASE_URL=dropday.url)
                        event = dropday_delivery(ddb.endpoint_url) if side == "function" else delivery_message()
                    sent_before = len(dropday.orders)
                    result: Any = cold_start(folder, path, event, env, work)
                    if function.delivers and side == "function" and len(dropday.orders) != sent_before + 1:
                        raise RuntimeError(
                            f"{function.row}: the Dropday fake did not get the order\n{result['log'][-3000:]}"
                        )
                    expected = function.outcome if side == "function" else function.outcome.replace("202", "200")
                    if result["outcome"] != expected:
                        answered = f"{function.name} {side}: answered {result['outcome']}, not {expected}"
                        raise RuntimeError(f"{answered}\n{result['log'][-3000:]}")
                    runs.setdefault((function.row, side), []).append(
                        Run(
                            result["process_s"],
                            result["import_s"],
                            result["invoke_s"],
                            result["cpu_s"],
                            result["peak_rss_kib"],
                        )
                    )

    say(f"3. Cold start per function: a fresh process's import + first invocation, median of {REPEATS}, ms")
    say("   layer from `make build-SharedLayer LAYER_TARGET=local`; tracing on; no bytecode written")
    rows, cold, memory = [], [], []

    def med(values: list[Run], field: str) -> float:
        return median([getattr(r, field) for r in values])

    for function in FUNCTIONS:
        mine, base = runs[(function.row, "function")], runs[(function.row, "baseline")]
        ratio = med(mine, "cold_s") / med(base, "cold_s")
        cpu_ratio = med(mine, "cpu_s") / med(base, "cpu_s")
        for label, side in ((function.row, mine), (f"  baseline {function.kind}", base)):
            rows.append(
                [
                    label,
                    f"{med(side, 'cold_s') * 1000:.0f}",
                    f"{med(side, 'import_s') * 1000:.0f}",
                    f"{med(side, 'invoke_s') * 1000:.0f}",
                    f"{med(side, 'cpu_s') * 1000:.0f}",
                    f"{med(side, 'process_s') * 1000:.0f}",
                    f"{med(side, 'peak_kib') / 1024:.1f}",
                    f"{ratio:.2f}x / {cpu_ratio:.2f}x" if side is mine else "",
                ]
            )
        verdict = "" if cpu_ratio <= GOAL else f" (goal {GOAL}x)"
        cold.append(
            Headline(
                f"Cold start, {function.row}: import + first call, CPU / wall ({function.request})",
                f"{med(mine, 'cpu_s') * 1000:.0f} / {med(mine, 'cold_s') * 1000:.0f} ms",
                f"{med(base, 'cpu_s') * 1000:.0f} / {med(base, 'cold_s') * 1000:.0f} ms minimal {function.kind}",
                f"{cpu_ratio:.2f}x{verdict} / {ratio:.2f}x the time",
            )
        )
        mem_ratio = med(mine, "peak_kib") / med(base, "peak_kib")
        memory.append(
            Headline(
                f"Peak memory (RSS), {function.row}, after its first invocation",
                f"{med(mine, 'peak_kib') / 1024:.1f} MiB",
                f"{med(base, 'peak_kib') / 1024:.1f} MiB minimal {function.kind}",
                f"{mem_ratio:.2f}x the memory",
            )
        )
    headers = ["function", "cold", "import", "1st call", "CPU", "process", "peak MiB", "vs baseline (wall/CPU)"]
    say(table(headers, rows))
    say("   cold = import + 1st call (wall); CPU = their CPU time; process = the whole process from outside")
    say("   (interpreter start and exit included); peak = the process's peak resident set (VmHWM)")
    say()
    return cold, memory
