"""`make dev`: deploy the real template.yaml to MiniStack, wired to local provider fakes.

Steps: start the fakes (their URLs and credentials go to .local/fakes.json), `local/stack.sh deploy`
with parameter overrides pointing the destinations at the fakes, then go live the way a merchant
does: `signbridge setup` (the fakes' credentials and a fresh Integration Secret, from a file) and
`signbridge connect` (the order:created subscription at the Sign Customiser fake, its secret in
SSM), and write everything a client needs to .local/stack.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3

from signbridge_tools.fakes.wiring import WIRING
from signbridge_tools.golive.connect import split_secrets
from signbridge_tools.golive.deployment import SECRETS

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / ".local"
STACK_FILE = STATE / "stack.json"
FAKES_FILE = STATE / "fakes.json"
FAKES_PID = STATE / "fakes.pid"
# The same MiniStack as local/stack.sh: MINISTACK_PORT picks it (several stacks may run side by side).
ENDPOINT = os.environ.get("MINISTACK_ENDPOINT") or f"http://127.0.0.1:{os.environ.get('MINISTACK_PORT', '4566')}"
REGION = "us-east-1"
STACK_NAME = os.environ.get("STACK_NAME", "signbridge-local")
# MiniStack takes any credentials; the console's AWS clients need some.
AWS_ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION}


def aws(service: str) -> Any:
    return boto3.client(
        service, endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    )


def say(message: str) -> None:
    print(f"[dev] {message}", file=sys.stderr, flush=True)


def start_fakes() -> dict[str, Any]:
    stop_fakes()
    FAKES_FILE.unlink(missing_ok=True)
    log = open(STATE / "fakes.log", "ab")  # noqa: SIM115 - handed to the child process
    process = subprocess.Popen(
        [sys.executable, "-m", "signbridge_tools.fakes", "--host", "127.0.0.1", "--state-file", str(FAKES_FILE)],
        stdout=log,
        stderr=log,
        start_new_session=True,
        cwd=ROOT,
    )
    FAKES_PID.write_text(str(process.pid))
    deadline = time.monotonic() + 20
    while not FAKES_FILE.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the provider fakes did not start; see {STATE / 'fakes.log'}")
        time.sleep(0.1)
    say(f"provider fakes up (pid {process.pid})")
    return dict(json.loads(FAKES_FILE.read_text()))


def stop_fakes() -> None:
    if FAKES_PID.exists():
        with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
            os.killpg(int(FAKES_PID.read_text()), signal.SIGTERM)
        FAKES_PID.unlink(missing_ok=True)


def deploy(fakes: dict[str, Any], stack_name: str = STACK_NAME, extra: dict[str, str] | None = None) -> dict[str, str]:
    overrides = {
        "TableDeletionProtection": "false",
        "LogRetentionDays": "1",
        **{k: v for name, wiring in WIRING.items() for k, v in wiring.parameters(fakes[name]).items()},
        # Waits are short locally so the demo and the end-to-end tests finish quickly.
        "RetryBaseSeconds": "2",
        "RetryMaxSeconds": "10",
        "HeldRetrySeconds": "5",
        "SignCustomiserInDoubtGraceSeconds": "10",
        "SweepIntervalMinutes": "2",
        "SweepGraceSeconds": "60",
        # MiniStack hands the template's MaximumConcurrency to its SQS poller as a string, which
        # stops the poller; 0 leaves ScalingConfig out (no cap), as the template allows.
        "ForwarderMaxConcurrency": "0",
        # The stack makes its alarm topic with this subscriber (MiniStack sends no email).
        "AlarmEmail": "alarms@signbridge.local",
        **(extra or {}),
    }
    env = {
        **os.environ,
        "STACK_NAME": stack_name,
        "PARAMETER_OVERRIDES": " ".join(f"{k}={v}" for k, v in overrides.items()),
    }
    say("sam build + deploy to MiniStack (about 20 s)")
    result = subprocess.run(
        ["bash", str(ROOT / "local/stack.sh"), "deploy"], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit("deploy failed")
    return dict(json.loads(result.stdout))


def console(*args: str) -> subprocess.CompletedProcess[str]:
    """`signbridge ARGS` against MiniStack, as a person would run it."""
    command = [sys.executable, "-m", "signbridge_tools.cli", *args, "--endpoint-url", ENDPOINT, "--region", REGION]
    env = {**os.environ, **AWS_ENV}
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)


def secrets_file(fakes: dict[str, Any], path: Path) -> Path:
    """What a merchant types into `signbridge setup`: a fresh Integration Secret, the fakes' keys."""
    values = {
        "SIGNBRIDGE_INTEGRATION_SECRET": secrets.token_urlsafe(24),
        **{s.variable: WIRING[s.destination].secret(fakes[s.destination]) for s in SECRETS if s.destination},
    }
    path.touch(mode=0o600)
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    return path


def go_live(fakes: dict[str, Any], stack_name: str = STACK_NAME) -> None:
    """`signbridge setup` then `signbridge connect`, their output on stderr; SystemExit when one fails."""
    given = secrets_file(fakes, STATE / f"{stack_name}.secrets.env")
    try:
        steps = [("setup", "--from", str(given), "--no-input"), ("connect",)]
        for command, *rest in steps:
            done = console(command, "--stack", stack_name, *rest)
            for line in (done.stdout + done.stderr).splitlines():
                say(f"{command}: {line}")
            if done.returncode != 0:
                raise SystemExit(f"signbridge {command} failed")
    finally:
        given.unlink(missing_ok=True)


def read_secret(name: str) -> str:
    return str(aws("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])


def api_key_value(outputs: dict[str, str]) -> str:
    return str(aws("apigateway").get_api_key(apiKey=outputs["ApiKeyId"], includeValue=True)["value"])


def up() -> None:
    STATE.mkdir(exist_ok=True)
    fakes = start_fakes()
    outputs = deploy(fakes)
    go_live(fakes)
    base = f"{ENDPOINT}/_aws/execute-api/{outputs['ApiId']}/{outputs['StageName']}"
    webhook_url = f"{base}/sign-customiser/webhooks"
    stack = {
        "endpoint_url": ENDPOINT,
        "region": REGION,
        "stack_name": STACK_NAME,
        "api_url": base,
        "create_product_url": f"{base}/sign-customiser/products",
        "webhook_url": webhook_url,
        "orders_url": f"{base}/orders",
        "api_key": api_key_value(outputs),
        "integration_secret": read_secret("/signbridge/integration-secret"),
        "webhook_secrets": split_secrets(read_secret("/signbridge/webhook-secrets")),
        "table_name": outputs["TableName"],
        "queue_url": outputs["DeliveryQueueUrl"],
        "dlq_url": outputs["DeliveryDLQUrl"],
        "fakes": fakes,
    }
    STACK_FILE.write_text(json.dumps(stack, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: stack[k]
                for k in (
                    "api_url",
                    "create_product_url",
                    "webhook_url",
                    "orders_url",
                    "api_key",
                    "integration_secret",
                    "webhook_secrets",
                )
            },
            indent=2,
        )
    )
    say(f"written {STACK_FILE.relative_to(ROOT)}; try `make demo`; stop with `make dev-stop`")


def down() -> None:
    stop_fakes()
    STACK_FILE.unlink(missing_ok=True)
    say("provider fakes stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m signbridge_tools.dev")
    parser.add_argument("command", choices=["up", "down"])
    args = parser.parse_args(argv)
    up() if args.command == "up" else down()


if __name__ == "__main__":
    main()
