"""Exactly-once promises on DynamoDB Local: racing deliveries, racing workers, all-or-nothing writes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any

import pytest

from signbridge import forwarding_root, roots
from signbridge.lifecycle import MOVES, Seen
from signbridge.models.items import DeliveryRecord, DeliveryState
from signbridge.store import Change, SendingStep
from tests.conftest import INTEGRATION_SECRET, WEBHOOK_SECRETS, load_function
from tests.support.events import api_event, fixture, fixture_bytes, response_json, signed_headers
from tests.support.routes import routes

pytestmark = pytest.mark.dynamodb_local


def items(client: Any) -> list[dict[str, Any]]:
    return client.scan(TableName=forwarding_root.settings().table_name, ConsistentRead=True)["Items"]


def race(n: int, action: Callable[[], Any]) -> list[Any]:
    """Run ``action`` on n threads released together; their results."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        results[i] = action()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.fixture
def platform(monkeypatch) -> Any:
    """A merchant platform that gives every call a new product id (the worst case for a race)."""
    ids = count(1)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(0.05)
            body = json.dumps({"id": f"gid://{next(ids)}"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("EXTERNAL_ID_MODE", "platform")
    monkeypatch.setenv("PLATFORM_PRODUCT_URL", f"http://127.0.0.1:{server.server_port}/products")
    roots.reset()
    yield server
    server.shutdown()


def test_racing_product_deliveries_all_get_the_one_id_that_won(local_table, platform, lambda_context):
    body = fixture_bytes("signcustomiser_product_created.json")

    def deliver() -> Any:
        event = api_event("POST", "/sign-customiser/products", body, signed_headers(INTEGRATION_SECRET, body))
        return response_json(load_function("products").handler(event, lambda_context))

    answers = race(8, deliver)

    ids = {a["external_id"] for a in answers}
    assert len(ids) == 1, answers
    assert sorted(i["PK"]["S"] for i in items(local_table)) == sorted(["SCPRODUCT#1", f"PRODUCT#{ids.pop()}"])


def test_racing_webhook_deliveries_record_the_order_once(local_table, lambda_context):
    body = fixture_bytes("providers/signcustomiser_webhook_order_created.json")

    def deliver() -> int:
        event = api_event("POST", "/sign-customiser/webhooks", body, signed_headers(WEBHOOK_SECRETS[0], body))
        return int(load_function("webhooks").handler(event, lambda_context)["statusCode"])

    assert race(10, deliver) == [200] * 10
    keys = sorted(i["PK"]["S"] + "/" + i["SK"]["S"] for i in items(local_table))
    assert [k for k in keys if k.startswith(("SCORDER#", "ORDER#"))] == ["ORDER#12345/SCORDER#1", "SCORDER#1/ORDER"]
    assert len([k for k in keys if k.startswith("WEBHOOK#")]) == 1


def test_racing_posts_of_one_order_create_it_once(local_table, lambda_context):
    order = fixture("canonical_order.json")
    for line in order["line_items"]:
        line["customised"] = None  # no product callback in this test

    def post() -> int:
        event = api_event("POST", "/orders", json.dumps(order).encode())
        return int(load_function("orders").handler(event, lambda_context)["statusCode"])

    statuses = race(10, post)
    assert sorted(statuses) == [200] * 9 + [202]
    assert len([i for i in items(local_table) if i["PK"]["S"] == "ORDER#order-123456"]) == 4  # order + 3 deliveries


def test_order_and_deliveries_are_written_all_or_nothing(local_table):
    # Given a stray delivery item for the order (so one of the transaction's conditions fails)
    store = forwarding_root.store()
    from signbridge.logic.orders import accept_platform_order
    from signbridge.models.order import Order
    from signbridge.store import to_item

    order = fixture("canonical_order.json")
    for line in order["line_items"]:
        line["customised"] = None
    local_table.put_item(
        TableName=store.table_name,
        Item=to_item(
            {"PK": "ORDER#order-123456", "SK": "DELIVERY#onward"},
            DeliveryRecord(
                order_id="order-123456", destination="onward", state=DeliveryState.DELIVERED, updated_at="x"
            ),
        ),
    )

    with pytest.raises(Exception):  # noqa: B017 - the write is refused as a whole
        accept_platform_order(Order.model_validate(order), store, routes("dropday", "onward"))

    assert [i["SK"]["S"] for i in items(local_table)] == ["DELIVERY#onward"]  # nothing half-written


def _seed_delivery(local_table: Any) -> None:
    from signbridge.store import to_item

    local_table.put_item(
        TableName=forwarding_root.settings().table_name,
        Item=to_item(
            {"PK": "ORDER#o1", "SK": "DELIVERY#dropday"},
            DeliveryRecord(order_id="o1", destination="dropday", state=DeliveryState.PENDING, updated_at="t"),
        ),
    )


def _claim(store: Any, attempt: str, now: int, lease: int = 5, gen: int = 0) -> Any:
    """A worker's claim on the delivery as it reads it now: the lease, and the step it sends."""
    current = store.get_delivery("o1", "dropday")
    change = Change(
        updated_at="t",
        lease=(attempt, now + lease),
        count_attempt=True,
        sending=SendingStep("create_order", True, 0, now),
    )
    return store.move(current, "claim", change, now=now, gen=gen)


def _answer(store: Any, claimed: Any, move: str, now: int, **changes: Any) -> Any:
    """The answer an attempt records, on the delivery as its claim left it (what the worker holds)."""
    change = Change(updated_at="t", lease=None, sending=None, **changes)
    return store.move(claimed, move, change, now=now, attempt_id=claimed.attempt_id)


def test_only_one_worker_gets_the_lease_on_a_delivery(local_table):
    _seed_delivery(local_table)
    store = forwarding_root.store()
    now = int(time.time())
    claims = race(8, lambda: _claim(store, f"a-{threading.get_ident()}", now, lease=60))
    winners = [c for c in claims if c is not None]
    assert len(winners) == 1
    assert store.get_delivery("o1", "dropday").attempts == 1


def test_an_expired_lease_says_the_attempt_may_have_sent_and_the_old_worker_loses_its_lease(local_table):
    _seed_delivery(local_table)
    store = forwarding_root.store()
    now = int(time.time())
    first = _claim(store, "first", now)
    assert first is not None and first.sending_step == "create_order" and first.sent_at == now
    # While its lease runs, no second claim is allowed (the engine comes back later).
    assert not MOVES["claim"].allows(store.get_delivery("o1", "dropday"), Seen(now=now + 1, gen=0))

    second = _claim(store, "second", now + 10)  # the first worker died: its lease ran out

    assert second is not None and second.attempts == 2
    # The first worker, if it was only slow, can no longer record an answer over the second's.
    assert _answer(store, first, "delivered", now + 11) is None
    assert _answer(store, second, "delivered", now + 11, destination_ref="9")
    final = store.get_delivery("o1", "dropday")
    assert (final.state, final.destination_ref, final.attempts) == (DeliveryState.DELIVERED, "9", 2)
    assert not MOVES["claim"].allows(final, Seen(now=now + 20, gen=0))  # delivered is final


def test_a_move_decided_on_a_stale_read_is_not_written(local_table):
    _seed_delivery(local_table)
    store = forwarding_root.store()
    now = int(time.time())
    stale = store.get_delivery("o1", "dropday")
    assert _claim(store, "first", now) is not None  # another worker moved it meanwhile

    wait = Change(updated_at="t", next_attempt_at=now + 30)
    assert store.move(stale, "wait", wait, now=now, gen=0) is None  # nothing written
    assert store.get_delivery("o1", "dropday").state is DeliveryState.SENDING


def test_only_the_live_message_generation_can_claim(local_table):
    _seed_delivery(local_table)
    store = forwarding_root.store()
    now = int(time.time())
    assert store.replace_message("o1", "dropday", 0, now) == 1  # the sweeper sent a new message
    assert store.replace_message("o1", "dropday", 0, now) is None  # ... only once for generation 0

    current = store.get_delivery("o1", "dropday")
    assert not MOVES["claim"].allows(current, Seen(now=now, gen=0))  # the old message
    assert _claim(store, "new-message", now, gen=1) is not None


def test_the_state_index_lists_unsettled_deliveries_and_forgets_settled_ones(local_table):
    _seed_delivery(local_table)
    store = forwarding_root.store()
    now = int(time.time())
    assert _answer(store, _claim(store, "a1", now), "refused_key", now, next_attempt_at=now + 300)

    assert [d.order_id for d in store.deliveries_in_state("dropday", DeliveryState.HELD)] == ["o1"]
    assert list(store.deliveries_in_state("dropday", DeliveryState.HELD, due_before=now + 300)) == []
    assert list(store.deliveries_in_state("dropday", DeliveryState.SENDING)) == []

    assert _answer(store, _claim(store, "a2", now + 301), "delivered", now + 301, destination_ref="9")
    assert all(list(store.deliveries_in_state("dropday", state)) == [] for state in DeliveryState)
