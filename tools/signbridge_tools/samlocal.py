"""`make sam-local`: every function through SAM CLI's own local runtime, against the running local stack.

local/sam-local.sh prepares the engine (Docker, else Podman), the Lambda image and the build for
this machine's architecture, then runs:

    python -m signbridge_tools.samlocal run --template BUILT_TEMPLATE --arch ARCH --host-ip IP
    python -m signbridge_tools.samlocal relay --host-ip IP     (for invoking by hand, see docs/sam.md)

which invokes each function with `sam local invoke` on the events of signbridge_tools.events and
checks the JSON each prints (SAM exits 0 even when the function fails). The functions use the
local stack's parameters and provider fakes, but a table and a delivery queue of their own (made
in the same MiniStack for this run), so the stack's own stream and queue consumers never race
the invocations for the same deliveries. Results go to .local/sam-local/results.json.

Inside a container, 127.0.0.1 is the container: MiniStack and the fakes listen on the host's
loopback only, so a small relay listens on the engine's bridge gateway (--host-ip) and forwards
each of their ports to 127.0.0.1. `AWS_ENDPOINT_URL` is not a variable the template declares, and
`sam local invoke --env-vars` only sets declared ones: the built template (a build artifact) gets
it declared, empty, in Globals; deployed stacks never see it. Under qemu (SAMLOCAL_ARCH=arm64 on
an x86_64 machine) the built template's function timeouts are raised too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import boto3
import httpx
import yaml

from signbridge_tools import events

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / ".local" / "sam-local"
STACK_FILE = Path(os.environ.get("SIGNBRIDGE_STACK_FILE", ROOT / ".local" / "stack.json"))
RESULTS_FILE = STATE / "results.json"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
RESOURCE_PREFIX = "signbridge-samlocal-"
EMULATED_TIMEOUT = 300


def say(message: str) -> None:
    print(f"[sam-local] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- relay: container -> host loopback


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def _serve(listener: socket.socket, port: int) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", port), timeout=10)
            upstream.settimeout(None)
        except OSError:
            client.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


@contextlib.contextmanager
def relay(host_ip: str, ports: list[int]) -> Iterator[None]:
    """Forward host_ip:port to 127.0.0.1:port for each port, while the block runs."""
    listeners = []
    try:
        for port in ports:
            listener = socket.create_server((host_ip, port))
            listeners.append(listener)
            threading.Thread(target=_serve, args=(listener, port), daemon=True).start()
        yield
    finally:
        for listener in listeners:
            listener.close()


def seen_from_containers(url: str, host_ip: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{host_ip}:{parts.port}"))


# ---------------------------------------------------------------- the run's own table and queue


@dataclass
class LocalState:
    """The table and delivery queue this run's functions use, in the stack's MiniStack."""

    stack: dict[str, Any]
    run_id: str
    table_name: str = ""
    queue_url: str = ""
    clients: dict[str, Any] = field(default_factory=dict)

    def aws(self, service: Literal["dynamodb", "sqs"]) -> Any:
        if service not in self.clients:
            self.clients[service] = boto3.client(
                service,
                endpoint_url=self.stack["endpoint_url"],
                region_name=self.stack["region"],
                aws_access_key_id="test",
                aws_secret_access_key="test",
            )
        return self.clients[service]

    def create(self) -> None:
        """A table with the deployed table's keys (the template's), and a delivery queue."""
        dynamodb, sqs = self.aws("dynamodb"), self.aws("sqs")
        self.remove_leftovers()
        deployed = dynamodb.describe_table(TableName=self.stack["table_name"])["Table"]
        self.table_name = f"{RESOURCE_PREFIX}{self.run_id}"
        dynamodb.create_table(
            TableName=self.table_name,
            KeySchema=deployed["KeySchema"],
            AttributeDefinitions=deployed["AttributeDefinitions"],
            GlobalSecondaryIndexes=[
                {k: index[k] for k in ("IndexName", "KeySchema", "Projection")}
                for index in deployed.get("GlobalSecondaryIndexes", [])
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.get_waiter("table_exists").wait(TableName=self.table_name, WaiterConfig={"Delay": 1})
        self.queue_url = sqs.create_queue(QueueName=self.table_name)["QueueUrl"]

    def remove_leftovers(self) -> None:
        dynamodb, sqs = self.aws("dynamodb"), self.aws("sqs")
        for name in dynamodb.list_tables()["TableNames"]:
            if name.startswith(RESOURCE_PREFIX):
                dynamodb.delete_table(TableName=name)
        for url in sqs.list_queues(QueueNamePrefix=RESOURCE_PREFIX).get("QueueUrls", []):
            sqs.delete_queue(QueueUrl=url)

    def deliveries(self, order_id: str) -> list[dict[str, Any]]:
        """The order's delivery items, as DynamoDB JSON (what the table's stream would carry)."""
        return list(
            self.aws("dynamodb").query(
                TableName=self.table_name,
                KeyConditionExpression="PK = :pk AND begins_with(SK, :sk)",
                ExpressionAttributeValues={":pk": {"S": f"ORDER#{order_id}"}, ":sk": {"S": "DELIVERY#"}},
                ConsistentRead=True,
            )["Items"]
        )

    def receive_all(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while (
            batch := self.aws("sqs")
            .receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0)
            .get("Messages", [])
        ):
            messages.extend(batch)
        return messages


def env_vars(stack: dict[str, Any], state: LocalState, host_ip: str) -> dict[str, Any]:
    """`--env-vars`: the functions read and write the stack's local state, through the relay."""
    fakes = stack["fakes"]
    return {
        "Parameters": {
            "AWS_ENDPOINT_URL": seen_from_containers(stack["endpoint_url"], host_ip),
            "TABLE_NAME": state.table_name,
            "DELIVERY_QUEUE_URL": seen_from_containers(state.queue_url, host_ip),
            "SIGNCUSTOMISER_BASE_URL": seen_from_containers(fakes["signcustomiser"]["url"], host_ip),
            "SIGNCUSTOMISER_INTEGRATION_ID": str(fakes["signcustomiser"]["integration_id"]),
            "DROPDAY_BASE_URL": seen_from_containers(fakes["dropday"]["url"], host_ip),
            "DROPDAY_ACCOUNT_ID": fakes["dropday"]["account_id"],
            "DROPDAY_SOURCE": "signbridge-sam-local",
            "ONWARD_BASE_URL": seen_from_containers(fakes["onward"]["url"], host_ip),
        }
    }


def prepare_built_template(template: Path, emulated: bool) -> None:
    """Edit the built template (a build artifact; template.yaml is untouched).

    `--env-vars` can only set AWS_ENDPOINT_URL once it is declared: it is, empty, in Globals.
    Under qemu (another architecture) a cold start takes many times longer than on Lambda, so
    the functions get EMULATED_TIMEOUT seconds instead of their own timeout.
    """
    document = yaml.safe_load(template.read_text())
    function_globals = document["Globals"]["Function"]
    function_globals["Environment"]["Variables"].setdefault("AWS_ENDPOINT_URL", "")
    if emulated:
        function_globals["Timeout"] = EMULATED_TIMEOUT
        for resource in document["Resources"].values():
            if resource["Type"] == "AWS::Serverless::Function":
                resource["Properties"]["Timeout"] = EMULATED_TIMEOUT
    template.write_text(yaml.safe_dump(document, sort_keys=False))


# ---------------------------------------------------------------- sam local invoke


@dataclass
class Invocation:
    name: str
    function: str
    event: str
    seconds: float
    response: Any
    stderr_tail: str


@dataclass
class Runner:
    template: Path
    arch: str
    engine: str
    env_file: Path
    events_dir: Path
    invocations: list[Invocation] = field(default_factory=list)

    def invoke(self, name: str, function: str, event_file: str) -> Any:
        command = [
            str(SAM),
            "local",
            "invoke",
            function,
            "--template",
            str(self.template),
            "--event",
            str(self.events_dir / event_file),
            "--env-vars",
            str(self.env_file),
            "--parameter-overrides",
            f"Architecture={self.arch}",
        ]
        if self.engine == "podman":
            command.append("--skip-pull-image")  # its image is built here; no registry is reachable
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
        seconds = round(time.monotonic() - started, 2)
        response = parse_response(done.stdout)
        self.invocations.append(Invocation(name, function, event_file, seconds, response, done.stderr[-3000:]))
        say(f"{name}: {function} -e {event_file} in {seconds} s -> {json.dumps(response)[:160]}")
        return response


def parse_response(stdout: str) -> Any:
    """The function's result: the last JSON line SAM prints on stdout (None when there is none)."""
    for line in reversed(stdout.strip().splitlines()):
        with contextlib.suppress(ValueError):
            return json.loads(line)
    return None


def api_result(response: Any) -> dict[str, Any]:
    """statusCode and decoded body of an API Gateway proxy response."""
    if not isinstance(response, dict) or "statusCode" not in response:
        return {"status": None, "body": response}
    body = response.get("body")
    with contextlib.suppress(TypeError, ValueError):
        body = json.loads(body or "null")
    return {"status": response["statusCode"], "body": body}


def deployed_result(stack: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The same request through the deployed local stack's API Gateway (for the bad events)."""
    url = stack["api_url"] + event["path"]
    response = httpx.request(
        event["httpMethod"], url, content=(event["body"] or "").encode(), headers=event["headers"], timeout=30
    )
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    return {"status": response.status_code, "body": body}


def fake_requests_for(stack: dict[str, Any], order_id: str) -> dict[str, int]:
    """How many requests each destination fake answered that carry this order id."""
    counts = {}
    for name in events.DESTINATIONS:
        listed = httpx.get(stack["fakes"][name]["control_url"] + "/requests", timeout=10).json()["requests"]
        counts[name] = sum(1 for r in listed if order_id in json.dumps(r) and r.get("outcome") == "answered")
    return counts


# ---------------------------------------------------------------- the run


@dataclass
class Checks:
    results: list[dict[str, Any]] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: Any) -> None:
        self.results.append({"check": name, "ok": bool(ok), "detail": detail})
        if not ok:
            say(f"FAILED {name}: {json.dumps(detail)[:400]}")

    @property
    def failed(self) -> list[str]:
        return [r["check"] for r in self.results if not r["ok"]]


def run(args: argparse.Namespace) -> int:
    if not STACK_FILE.exists():
        raise SystemExit(f"no local stack ({STACK_FILE} is missing): run `make dev` first")
    stack = json.loads(STACK_FILE.read_text())
    run_id = time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]
    order_id = f"samlocal-{run_id}"
    shutil.rmtree(STATE / "events", ignore_errors=True)
    events_dir = STATE / "events"
    env_file = STATE / "env.json"

    state = LocalState(stack, run_id)
    state.create()
    prepare_built_template(args.template, emulated=args.emulated)
    env_file.write_text(json.dumps(env_vars(stack, state, args.host_ip), indent=2) + "\n")

    def signed_now(event_file: str) -> str:
        """Write all events signed now (a slow, emulated run outlives a signature's 300 s) but
        the stream and queue batches, which come from the table and the queue."""
        built = events.build_events(
            stack["integration_secret"], stack["webhook_secrets"][0], int(time.time()), order_id=order_id
        )
        batches = ("outbox_deliveries_pending.json", "forwarder_deliveries.json")
        first = not (events_dir / batches[0]).exists()
        events.write_events({k: v for k, v in built.items() if first or k not in batches}, events_dir)
        return event_file

    signed_now("product_created.json")
    say(f"table {state.table_name}, order {order_id}, env-vars {env_file.relative_to(ROOT)}")

    evidence: dict[str, Any] = {"bad_events": {}}
    runner = Runner(args.template, args.arch, args.engine, env_file, events_dir)
    checks = Checks()
    ports = sorted({urlsplit(stack["endpoint_url"]).port or 80} | fake_ports(stack))
    started = time.monotonic()
    with relay(args.host_ip, ports) if args.host_ip != "127.0.0.1" else contextlib.nullcontext():
        product = api_result(runner.invoke("product", "ProductsFunction", signed_now("product_created.json")))
        checks.check(
            "product callback: 200 with an external_id",
            product["status"] == 200 and bool((product["body"] or {}).get("external_id")),
            product,
        )
        webhook = api_result(runner.invoke("webhook", "WebhooksFunction", signed_now("webhook_order_created.json")))
        checks.check("webhook: 200 {ok: true}", webhook == {"status": 200, "body": {"ok": True}}, webhook)
        posted = api_result(runner.invoke("order_post", "OrdersFunction", signed_now("order_post.json")))
        checks.check("POST /orders: 202 or 200", posted["status"] in (200, 202), posted)
        shown = api_result(runner.invoke("order_get", "OrdersFunction", signed_now("order_get.json")))
        checks.check(
            "GET /orders/{id}: 200 with the order's state",
            shown["status"] == 200 and (shown["body"] or {}).get("order_id") == order_id,
            shown,
        )

        # The outbox gets the stream batch the table would emit for the order's pending deliveries.
        pending = state.deliveries(order_id)
        evidence["pending"] = {item["destination"]["S"]: item["state"]["S"] for item in pending}
        stream = events.stream_event(pending, int(time.time()))
        (events_dir / "outbox_deliveries_pending.json").write_text(json.dumps(stream, indent=2) + "\n")
        outbox = runner.invoke("outbox", "OutboxFunction", "outbox_deliveries_pending.json")
        checks.check("outbox: no batchItemFailures", outbox == {"batchItemFailures": []}, outbox)
        queued = state.receive_all()
        bodies = sorted((json.loads(m["Body"]) for m in queued), key=json.dumps)
        evidence["queued"] = bodies
        expected = sorted((json.loads(b) for b in events.delivery_bodies(stream)), key=json.dumps)
        checks.check(
            "outbox: one queue message per pending delivery",
            len(pending) == len(events.DESTINATIONS) and bodies == expected,
            {"pending": len(pending), "queued": bodies},
        )

        # The forwarder gets those very messages, as the SQS event source would hand them over.
        batch = events.sqs_event([m["Body"] for m in queued], int(time.time()), [m["ReceiptHandle"] for m in queued])
        (events_dir / "forwarder_deliveries.json").write_text(json.dumps(batch, indent=2) + "\n")
        forwarded = runner.invoke("forwarder", "ForwarderFunction", "forwarder_deliveries.json")
        checks.check("forwarder: no batchItemFailures", forwarded == {"batchItemFailures": []}, forwarded)
        states = {item["destination"]["S"]: item["state"]["S"] for item in state.deliveries(order_id)}
        evidence["delivered"] = states
        checks.check(
            "forwarder: every delivery is delivered in the table",
            states == dict.fromkeys(events.DESTINATIONS, "delivered"),
            states,
        )
        received = fake_requests_for(stack, order_id)
        evidence["fake_requests"] = received
        checks.check("forwarder: each destination fake received the order", all(received.values()), received)

        # The sweeper, as its schedule runs it: it reads the state index of the same table.
        swept = runner.invoke("sweeper", "SweeperFunction", signed_now("sweeper_scheduled.json"))
        checks.check(
            "sweeper: reports, nothing awaiting an operator",
            isinstance(swept, dict) and swept.get("awaiting_operator") == 0 and "reenqueued" in swept,
            swept,
        )

        for name, function, event_file in (
            ("product_unsigned", "ProductsFunction", "product_unsigned.json"),
            ("webhook_malformed", "WebhooksFunction", "webhook_malformed.json"),
        ):
            local = api_result(runner.invoke(name, function, signed_now(event_file)))
            deployed = deployed_result(stack, json.loads((events_dir / event_file).read_text()))
            same = {"local": local, "deployed": deployed}
            evidence["bad_events"][name] = same
            checks.check(f"{name}: same error as the deployed stack", local == deployed, same)
    total = round(time.monotonic() - started, 2)

    results = {
        "arch": args.arch,
        "engine": args.engine,
        "order_id": order_id,
        "table_name": state.table_name,
        "invocations": {i.name: vars(i) for i in runner.invocations},
        **evidence,
        "invoke_seconds_total": total,
        "checks": checks.results,
        "failed": checks.failed,
    }
    RESULTS_FILE.write_text(json.dumps(results, indent=2) + "\n")
    times = [i.seconds for i in runner.invocations]
    say(
        f"{len(times)} invocations in {total} s (first {times[0]} s, then {min(times[1:])}-{max(times[1:])} s); "
        f"results in {RESULTS_FILE.relative_to(ROOT)}"
    )
    if checks.failed:
        say(f"{len(checks.failed)} check(s) failed: {', '.join(checks.failed)}")
        return 1
    say(f"all {len(checks.results)} checks passed")
    return 0


# ---------------------------------------------------------------- sam local start-api

START_API_RESULTS = STATE / "start-api.json"
START_API_PORT = 3000


def start_api_command(template: Path, arch: str, engine: str, env_file: Path, port: int) -> list[str]:
    command = [
        str(SAM),
        "local",
        "start-api",
        "--template",
        str(template),
        "--env-vars",
        str(env_file),
        "--parameter-overrides",
        f"Architecture={arch}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if engine == "podman":
        command.append("--skip-pull-image")
    return command


def wait_for_port(port: int, process: subprocess.Popen[str], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"sam local start-api exited ({process.returncode}): see {STATE / 'start-api.log'}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.5)
    raise SystemExit(f"sam local start-api did not listen on {port} within {seconds} s")


def signed_curl(url: str, body_file: Path, secret: str) -> str:
    """A curl that sends body_file's exact bytes, signed now (the signature is good for 300 s)."""
    headers = events.signed_headers(secret, body_file.read_bytes(), int(time.time()))
    header_args = " ".join(f"-H '{k}: {v}'" for k, v in headers.items())
    return (
        f"curl -sS -X POST '{url}' -H 'Content-Type: application/json' {header_args} "
        f"--data-binary @{body_file.relative_to(ROOT)}"
    )


def start_api_checks(stack: dict[str, Any], base: str, order_id: str) -> dict[str, Any]:
    """Real HTTP requests through sam local start-api, each answered by a function in a container."""
    built = events.build_events(
        stack["integration_secret"], stack["webhook_secrets"][0], int(time.time()), order_id=order_id
    )
    paid = json.dumps({"id": f"evt-paid-{order_id}", "type": "paid", "occurred_at": "2025-10-23T09:00:00Z"})
    requests = {
        "product": ("POST", "/sign-customiser/products", built["product_created.json"]),
        "order_post": ("POST", "/orders", built["order_post.json"]),
        "order_get": ("GET", f"/orders/{order_id}", built["order_get.json"]),
        "order_event": ("POST", f"/orders/{order_id}/events", {**built["order_post.json"], "body": paid}),
        "product_unsigned": ("POST", "/sign-customiser/products", built["product_unsigned.json"]),
    }
    answered: dict[str, Any] = {}
    for name, (method, path, event) in requests.items():
        started = time.monotonic()
        response = httpx.request(
            method, base + path, content=(event["body"] or "").encode(), headers=event["headers"], timeout=300
        )
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        answered[name] = {"status": response.status_code, "body": body, "seconds": round(time.monotonic() - started, 2)}
        say(f"{method} {path} -> {response.status_code} in {answered[name]['seconds']} s: {json.dumps(body)[:160]}")
    return answered


def start_api(args: argparse.Namespace) -> int:
    """`make start-api`: the API on 127.0.0.1:PORT, every route served by its function in a container,
    against the stack's parameters and fakes and a table and queue of this run's own. --check makes
    the requests of start_api_checks, writes start-api.json and stops."""
    if not STACK_FILE.exists():
        raise SystemExit(f"no local stack ({STACK_FILE} is missing): run `make dev` first")
    stack = json.loads(STACK_FILE.read_text())
    run_id = time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]
    order_id = f"startapi-{run_id}"
    state = LocalState(stack, run_id)
    state.create()
    prepare_built_template(args.template, emulated=args.emulated)
    env_file = STATE / "env.json"
    env_file.write_text(json.dumps(env_vars(stack, state, args.host_ip), indent=2) + "\n")
    ports = sorted({urlsplit(stack["endpoint_url"]).port or 80} | fake_ports(stack))
    base = f"http://127.0.0.1:{args.port}"
    command = start_api_command(args.template, args.arch, args.engine, env_file, args.port)
    START_API_RESULTS.unlink(missing_ok=True)
    with (
        relay(args.host_ip, ports) if args.host_ip != "127.0.0.1" else contextlib.nullcontext(),
        (STATE / "start-api.log").open("w") as log,
    ):
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            started = time.monotonic()
            wait_for_port(args.port, process)
            ready = round(time.monotonic() - started, 2)
            product = events.FIXTURES / "signcustomiser_product_created.json"
            say(
                f"sam local start-api ready in {ready} s on {base} (table {state.table_name}; "
                f"log {(STATE / 'start-api.log').relative_to(ROOT)})"
            )
            say(f"  POST {base}/sign-customiser/products   POST {base}/sign-customiser/webhooks")
            say(f"  POST {base}/orders   GET {base}/orders/{{order_id}}   POST {base}/orders/{{order_id}}/events")
            say("  (no API key, usage plan or throttling here: the deployed local stack, make dev, has them)")
            say("a signed product callback (the signature is good for 300 s):")
            print(signed_curl(f"{base}/sign-customiser/products", product, stack["integration_secret"]), flush=True)
            if not args.check:
                with contextlib.suppress(KeyboardInterrupt):
                    process.wait()
                return 0
            answered = start_api_checks(stack, base, order_id)
            results = {"order_id": order_id, "ready_seconds": ready, "table_name": state.table_name, **answered}
            START_API_RESULTS.write_text(json.dumps(results, indent=2) + "\n")
            return 0
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


def serve_relay(args: argparse.Namespace) -> int:
    """For invoking by hand: the relay of a run, until interrupted."""
    stack = json.loads(STACK_FILE.read_text())
    ports = sorted({urlsplit(stack["endpoint_url"]).port or 80} | fake_ports(stack))
    with relay(args.host_ip, ports):
        say(f"relaying {args.host_ip}:{ports} to 127.0.0.1; Ctrl-C stops")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


def fake_ports(stack: dict[str, Any]) -> set[int]:
    return {int(urlsplit(stack["fakes"][name]["url"]).port or 80) for name in events.DESTINATIONS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m signbridge_tools.samlocal")
    commands = parser.add_subparsers(dest="command", required=True)
    go = commands.add_parser("run", help="invoke every function with sam local invoke and check the results")
    go.add_argument("--template", type=Path, required=True, help="the built template (sam build's output)")
    go.add_argument("--arch", choices=["x86_64", "arm64"], required=True)
    go.add_argument("--host-ip", required=True, help="the address containers reach this machine on")
    go.add_argument("--engine", default="docker", help="recorded in the results (docker or podman)")
    go.add_argument("--emulated", action="store_true", help="the containers run under qemu: longer timeouts")
    go.set_defaults(run=run)
    api = commands.add_parser("start-api", help="sam local start-api on the local stack's parameters and fakes")
    api.add_argument("--template", type=Path, required=True, help="the built template (sam build's output)")
    api.add_argument("--arch", choices=["x86_64", "arm64"], required=True)
    api.add_argument("--host-ip", required=True, help="the address containers reach this machine on")
    api.add_argument("--engine", default="docker", help="docker or podman (podman: --skip-pull-image)")
    api.add_argument("--emulated", action="store_true", help="the containers run under qemu: longer timeouts")
    api.add_argument("--port", type=int, default=START_API_PORT)
    api.add_argument("--check", action="store_true", help="make the requests, write start-api.json and stop")
    api.set_defaults(run=start_api)
    forward = commands.add_parser("relay", help="forward the local stack's ports from --host-ip to 127.0.0.1")
    forward.add_argument("--host-ip", required=True, help="the address containers reach this machine on")
    forward.set_defaults(run=serve_relay)
    args = parser.parse_args(argv)
    STATE.mkdir(parents=True, exist_ok=True)
    runner: Callable[[argparse.Namespace], int] = args.run
    return runner(args)


if __name__ == "__main__":
    sys.exit(main())
