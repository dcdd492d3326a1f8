"""The in-process pipeline of the integration tests (tests/support/world.py) built outside pytest,
metered: DynamoDB Local, the delivery queue in memory with SQS's limits, a virtual clock, the
provider fakes over HTTP and the functions' own handlers, with the secrets read from SSM
Parameter Store by name as the template configures them (an in-memory SSM that counts reads)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from benchmarks._metering import Meter, count_invocations, count_ssm, metering, stream_filter
from signbridge import forwarding_root, roots
from signbridge.destinations import Destination
from signbridge_tools.dynamodb_local import DynamoDBLocal
from signbridge_tools.fakes.wiring import WIRING
from tests.conftest import BASE_ENV, WEBHOOK_SECRETS, deliver_webhook, load_function
from tests.support.world import World

FUNCTIONS = ("products", "webhooks", "orders", "outbox", "forwarder", "sweeper")
# The template's parameter names (template.yaml, Parameters): every secret is read from SSM.
SECRET_PARAMETERS = {
    "INTEGRATION_SECRET_PARAM": "/signbridge/integration-secret",
    "WEBHOOK_SECRETS_PARAM": "/signbridge/webhook-secrets",
    "PLATFORM_TOKEN_PARAM": "/signbridge/platform-token",
}


@contextmanager
def metered_world(ddb: DynamoDBLocal, *, settings: dict[str, str] | None = None) -> Iterator[tuple[World, Meter]]:
    """A fresh table and fakes; every function's handler counted; Sign Customiser's product 1
    mapped to sc-1 (before the meter starts) and its order:created webhook sent back for every
    order it creates, as the real service does."""
    with ExitStack() as stack:
        monkeypatch = pytest.MonkeyPatch()
        stack.callback(monkeypatch.undo)
        stack.callback(roots.reset)
        stack.callback(forwarding_root.reset)
        fakes = tuple(WIRING[name].test_fake().start() for name in Destination)
        for fake in fakes:
            stack.callback(fake.stop)

        def configure(**env: str) -> None:
            for key, value in env.items():
                monkeypatch.setenv(key, value)
            roots.reset()
            forwarding_root.reset()

        for key, value in BASE_ENV.items():
            monkeypatch.setenv(key, value)
        meter = stack.enter_context(metering(monkeypatch))
        meter.on = False
        secrets = {
            "/signbridge/integration-secret": BASE_ENV["INTEGRATION_SECRET"],
            "/signbridge/webhook-secrets": ",".join(WEBHOOK_SECRETS),
            "/signbridge/platform-token": "platform-token",
        }
        parameters = dict(SECRET_PARAMETERS)
        for name, fake in zip(Destination, fakes, strict=True):
            wiring = WIRING[name]
            variable = next(k for k in wiring.test_environment(fake) if k.endswith(("_API_KEY", "_API_TOKEN")))
            parameters[f"{variable}_PARAM"] = wiring.secret_parameter
            secrets[wiring.secret_parameter] = wiring.test_environment(fake)[variable]
        count_ssm(meter, monkeypatch, secrets)
        world = World(
            endpoint_url=ddb.endpoint_url,
            fakes=fakes,
            configure=configure,
            monkeypatch=monkeypatch,
            # The production default (the tests' 1 s would make a loaded machine's slow answer a doubt).
            settings={**parameters, "DESTINATION_TIMEOUT_SECONDS": "10", **(settings or {})},
            serial=True,  # one delivery at a time: each request is told to the function that made it
        )
        for function in FUNCTIONS:
            count_invocations(
                meter, monkeypatch, load_function(function), function, stream_filter() if function == "outbox" else None
            )
        assert world.product() == {"external_id": "sc-1"}
        world.fakes["signcustomiser"].on_order_created = lambda order: deliver_webhook(order, world.context)
        restart(world, meter)
        yield world, meter


_http_marks: dict[int, dict[str, int]] = {}


def restart(world: World, meter: Meter) -> None:
    """Count from here on (after a warm-up): the meter, the queue's requests and the fakes'."""
    meter.reset()
    world.sqs.calls.clear()
    _http_marks[id(world)] = {name: len(fake.requests) for name, fake in world.fakes.items()}
    meter.on = True


def http_requests(world: World) -> dict[str, list[str]]:
    """ "METHOD path" of each request each destination's fake received since ``restart`` (its API,
    not the fakes' control routes)."""
    marks = _http_marks.get(id(world), {})
    return {
        name: [f"{r['method']} {r['path']}" for r in fake.requests[marks.get(name, 0) :]]
        for name, fake in world.fakes.items()
    }
