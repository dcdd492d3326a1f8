"""Shared fixtures: a moto account with the template's table and queues, handlers, context."""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

INTEGRATION_SECRET = "test-integration-secret"
WEBHOOK_SECRETS = ("test-webhook-secret-new", "test-webhook-secret-old")

BASE_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_SERVICE_NAME": "signbridge",
    "POWERTOOLS_METRICS_NAMESPACE": "signbridge-tests",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_DEV": "0",
    "TABLE_NAME": "signbridge-test",
    # Tests that deliver create their own queue and set it; this only lets every function start.
    "DELIVERY_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/signbridge-deliveries",
    "INTEGRATION_SECRET": INTEGRATION_SECRET,
    "WEBHOOK_SECRETS": ",".join(WEBHOOK_SECRETS),
}
# Powertools reads its settings when the shared logger and metrics are built, at import.
os.environ.update(BASE_ENV)

import boto3  # noqa: E402
import botocore.client  # noqa: E402
import pytest  # noqa: E402
from botocore.validate import ParamValidator  # noqa: E402
from moto import mock_aws  # noqa: E402

from signbridge import forwarding_root, roots  # noqa: E402
from signbridge.destinations import Destination  # noqa: E402
from signbridge_tools.dynamodb_local import DynamoDBLocal  # noqa: E402
from signbridge_tools.fakes import FakeServer  # noqa: E402
from signbridge_tools.fakes.wiring import WIRING  # noqa: E402
from tests.support.template import ROOT, table_definition  # noqa: E402

# The fuzz suites' cases and statuses, printed at the end of a run (here, not in tests/fuzz/,
# because under pytest-xdist the controller never loads a sub-folder's conftest).
pytest_plugins = ["tests.fuzz.summary"]


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith(
            ("SIGNCUSTOMISER_", "DROPDAY_", "ONWARD_", "EXTERNAL_ID_", "PLATFORM_", "ROUTE_", "FORWARD_")
        ):
            monkeypatch.delenv(key, raising=False)
    for key, value in BASE_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    roots.reset()
    forwarding_root.reset()
    yield
    roots.reset()
    forwarding_root.reset()


@pytest.fixture(autouse=True)
def dynamodb_requests_botocore_would_accept(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The store's client skips botocore's client-side parameter validation (a cold-start and
    per-call saving); the tests keep it: a DynamoDB request built wrongly fails here, in CI,
    rather than reaching DynamoDB in production."""
    refused: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def checked(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            shape = self.meta.service_model.operation_model(operation).input_shape
            report = ParamValidator().validate(params, shape)
            if report.has_errors():
                refused.append(f"{operation}: {report.generate_report()}")
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", checked)
    yield
    assert not refused, f"DynamoDB requests botocore would refuse: {refused}"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def table(aws: None) -> Any:
    """The template's table, created in moto from the template's own key schema."""
    client = boto3.client("dynamodb")
    client.create_table(TableName=BASE_ENV["TABLE_NAME"], **table_definition())
    return client


@pytest.fixture
def queue(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    url = boto3.client("sqs").create_queue(QueueName="signbridge-deliveries")["QueueUrl"]
    monkeypatch.setenv("DELIVERY_QUEUE_URL", url)
    roots.reset()
    forwarding_root.reset()
    return url


_modules: dict[str, ModuleType] = {}


def load_function(name: str) -> ModuleType:
    """functions/<name>/app.py as a module (each function folder has its own app.py)."""
    if name not in _modules:
        spec = importlib.util.spec_from_file_location(f"function_{name}_app", ROOT / "functions" / name / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _modules[name] = module
    return _modules[name]


@dataclass
class LambdaContext:
    function_name: str = "signbridge-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:signbridge-test"
    aws_request_id: str = "test-request"
    remaining_ms: int = 20_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Change settings mid-test: sets the variables and forgets what was built from the old ones."""

    def apply(**env: str) -> None:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        roots.reset()
        forwarding_root.reset()

    return apply


@pytest.fixture
def fakes() -> Iterator[tuple[FakeServer, ...]]:
    """Every destination as a contract-checking HTTP server on loopback, in the registry's order."""
    started = tuple(WIRING[name].test_fake().start() for name in Destination)
    yield started
    for fake in started:
        fake.stop()


_one_invocation_at_a_time = threading.Lock()


def deliver_webhook(order: dict[str, Any], context: Any) -> None:
    """Sign Customiser's signed order:created for an order it just created (its fake calls this)."""
    from tests.support.events import api_event, signed_headers

    products = [
        {"product_id": n, "title": f"Product {p['external_id']}", "external_id": p["external_id"], "price": p["price"]}
        for n, p in enumerate(order.get("products") or [], start=1)
    ]
    payload = {
        "order_id": order["order_id"],
        "external_id": order["external_id"],
        "external_order_number": order.get("external_order_number"),
        "currency": order.get("currency"),
        "products": products,
    }
    body = json.dumps({"order": payload}).encode()
    event = api_event("POST", "/sign-customiser/webhooks", body, signed_headers(WEBHOOK_SECRETS[0], body))
    # A Lambda container serves one request at a time; the fakes call back from their own threads.
    with _one_invocation_at_a_time:
        assert load_function("webhooks").handler(event, context)["statusCode"] == 200


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    """AWS's own engine, started once per session from the jar npm installed."""
    with DynamoDBLocal() as engine:
        yield engine
