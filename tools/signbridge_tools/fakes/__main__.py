"""Run all three fakes in one process for a local demo / e2e stack.

    python -m signbridge_tools.fakes --host 127.0.0.1 --state-file .local/fakes.json \
        [--signcustomiser-port N --dropday-port N --onward-port N]

Credentials come from flags, else SIGNBRIDGE_FAKE_* environment variables, else fixed dev values.
Once all three listen, the URLs and credentials are written (atomically) to the state file; the
process then runs until SIGTERM/SIGINT and removes the state file on the way out, so its presence
means "the fakes are up".
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from .dropday import DEFAULT_ACCOUNT_ID, DropdayFake
from .dropday import DEFAULT_API_KEY as DROPDAY_KEY
from .onward import DEFAULT_API_KEY as ONWARD_KEY
from .onward import OnwardFake
from .server import FakeServer
from .signcustomiser import DEFAULT_INTEGRATION_ID, DEFAULT_TOKEN, SignCustomiserFake


def _env(name: str, default: Any) -> Any:
    return os.environ.get(f"SIGNBRIDGE_FAKE_{name}", default)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m signbridge_tools.fakes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default=_env("HOST", "127.0.0.1"))
    p.add_argument("--state-file", type=Path, required=True, help="JSON file for URLs + credentials")
    for name in ("signcustomiser", "dropday", "onward"):
        p.add_argument(
            f"--{name}-port", type=int, default=int(_env(f"{name.upper()}_PORT", 0)), help="0 (default) = any free port"
        )
    p.add_argument("--signcustomiser-token", default=_env("SIGNCUSTOMISER_TOKEN", DEFAULT_TOKEN))
    p.add_argument(
        "--signcustomiser-integration-id",
        type=int,
        default=int(_env("SIGNCUSTOMISER_INTEGRATION_ID", DEFAULT_INTEGRATION_ID)),
    )
    p.add_argument(
        "--signcustomiser-known-products",
        default=_env("SIGNCUSTOMISER_KNOWN_PRODUCTS", None),
        help="comma-separated product external ids; unset = accept any",
    )
    p.add_argument(
        "--signcustomiser-webhook-url",
        default=_env("SIGNCUSTOMISER_WEBHOOK_URL", None),
        help="POST a signed order:created webhook here after each order",
    )
    p.add_argument(
        "--signcustomiser-webhook-secret", default=_env("SIGNCUSTOMISER_WEBHOOK_SECRET", "sc-dev-webhook-secret")
    )
    p.add_argument("--dropday-api-key", default=_env("DROPDAY_API_KEY", DROPDAY_KEY))
    p.add_argument("--dropday-account-id", default=_env("DROPDAY_ACCOUNT_ID", DEFAULT_ACCOUNT_ID))
    p.add_argument("--onward-api-key", default=_env("ONWARD_API_KEY", ONWARD_KEY))
    p.add_argument(
        "--fail-rate",
        type=float,
        default=float(_env("FAIL_RATE", 0.0)),
        help="random fault probability for every fake (0..1)",
    )
    p.add_argument("--seed", type=int, default=_env("SEED", None))
    return p.parse_args(argv)


def build(args: argparse.Namespace) -> dict[str, FakeServer]:
    common = {"host": args.host, "fail_rate": args.fail_rate, "seed": None if args.seed is None else int(args.seed)}
    known = args.signcustomiser_known_products
    return {
        "signcustomiser": SignCustomiserFake(
            token=args.signcustomiser_token,
            integration_id=args.signcustomiser_integration_id,
            known_product_ids=None if known is None else [k.strip() for k in known.split(",") if k.strip()],
            webhook_url=args.signcustomiser_webhook_url,
            webhook_secret=args.signcustomiser_webhook_secret,
            port=args.signcustomiser_port,
            **common,
        ),
        "dropday": DropdayFake(
            api_key=args.dropday_api_key, account_id=args.dropday_account_id, port=args.dropday_port, **common
        ),
        "onward": OnwardFake(api_key=args.onward_api_key, port=args.onward_port, **common),
    }


def state(fakes: dict[str, FakeServer]) -> dict[str, Any]:
    sc, dd, on = fakes["signcustomiser"], fakes["dropday"], fakes["onward"]
    assert isinstance(sc, SignCustomiserFake)
    assert isinstance(dd, DropdayFake)
    assert isinstance(on, OnwardFake)

    def urls(fake: FakeServer, api_base: str, orders: str) -> dict[str, str]:
        return {
            "url": fake.url,
            "api_base": fake.url + api_base,
            "orders_url": fake.url + orders,
            "control_url": fake.url + "/_fake",
        }

    return {
        "pid": os.getpid(),
        "signcustomiser": {
            **urls(sc, "/api", "/api/v2/orders"),
            "token": sc.token,
            "integration_id": sc.integration_id,
            "webhook_url": sc.webhook_url,
            "webhook_secret": sc.webhook_secret,
        },
        "dropday": {**urls(dd, "/api/v1", "/api/v1/orders"), "api_key": dd.api_key, "account_id": dd.account_id},
        "onward": {**urls(on, "/api/v1", "/api/v1/orders"), "api_key": on.api_key},
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    fakes = build(args)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    state_file: Path = args.state_file
    try:
        for fake in fakes.values():
            fake.start()
        state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = state_file.with_name(state_file.name + ".tmp")
        tmp.write_text(json.dumps(state(fakes), indent=2) + "\n")
        tmp.replace(state_file)  # atomic: readers never see a half-written file
        print(" ".join(f"{name}={fake.url}" for name, fake in fakes.items()), flush=True)
        while not stop.wait(0.5):  # short waits keep signal delivery prompt on every platform
            pass
    finally:
        for fake in fakes.values():
            fake.stop()
        state_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
