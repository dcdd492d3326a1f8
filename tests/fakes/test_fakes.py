"""Contract and fault-injection tests for the local provider fakes (signbridge_tools.fakes).

Each test talks real HTTP (httpx) to a fake on a loopback port chosen by the OS.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from signbridge_tools.fakes import DropdayFake, FakeServer, OnwardFake, SignCustomiserFake

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
SC_HEADERS = {"Authorization": "Bearer sc-dev-token", "Accept": "application/json"}
DD_HEADERS = {"api-key": "dd-dev-key", "account-id": "dd-dev-account", "Accept": "application/json"}
ON_HEADERS = {"X-API-Key": "onward-dev-key", "Accept": "application/json"}
SC_PRODUCT = "your-product-id-123"  # the product id used in the documented request example
# One shared TLS context/client: building a fresh httpx client costs ~30 ms (CA loading).
SSL = ssl.create_default_context()
HTTP = httpx.Client(timeout=2.0, verify=SSL)


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


@dataclass
class Provider:
    """How to place one valid order on a given fake."""

    name: str
    make: Callable[[], FakeServer]
    path: str
    headers: dict[str, str]
    payload: dict[str, Any]
    key: str  # the order's external id / shop_order_id
    ok_status: int


PROVIDERS = {
    "signcustomiser": lambda: Provider(
        "signcustomiser",
        lambda: SignCustomiserFake(known_product_ids=[SC_PRODUCT]),
        "/api/v2/orders",
        SC_HEADERS,
        fixture("signcustomiser_create_order_request.json"),
        "order-123456",
        200,
    ),
    "dropday": lambda: Provider(
        "dropday",
        DropdayFake,
        "/api/v1/orders",
        DD_HEADERS,
        fixture("dropday_create_order_request.json"),
        "L41223D",
        200,
    ),
    "onward": lambda: Provider(
        "onward", OnwardFake, "/api/v1/orders", ON_HEADERS, fixture("onward_create_order_request.json"), "18282", 201
    ),
}


@pytest.fixture(params=sorted(PROVIDERS))
def provider(request: pytest.FixtureRequest) -> Iterator[tuple[Provider, FakeServer, httpx.Client]]:
    spec = PROVIDERS[request.param]()
    with spec.make() as fake, httpx.Client(base_url=fake.url, timeout=2.0, verify=SSL) as client:
        yield spec, fake, client


@pytest.fixture
def sc() -> Iterator[SignCustomiserFake]:
    with SignCustomiserFake(known_product_ids=[SC_PRODUCT]) as fake:
        yield fake


@pytest.fixture
def dropday() -> Iterator[DropdayFake]:
    with DropdayFake() as fake:
        yield fake


@pytest.fixture
def onward() -> Iterator[OnwardFake]:
    with OnwardFake() as fake:
        yield fake


def post(fake: FakeServer, path: str, payload: Any, headers: dict[str, str], **kw: Any) -> httpx.Response:
    return HTTP.post(fake.url + path, json=payload, headers=headers, timeout=kw.pop("timeout", 2.0), **kw)


# --------------------------------------------------------------------------- common behaviour
def test_documented_example_is_accepted_and_recorded(provider):
    # Given a running fake and the documented request example
    spec, fake, client = provider
    # When it is posted with valid credentials
    r = client.post(spec.path, json=spec.payload, headers=spec.headers)
    # Then it is accepted, recorded and the order is kept under its external id
    assert r.status_code == spec.ok_status, r.text
    assert fake.created_count(spec.key) == 1
    assert fake.orders[spec.key]["request"] == spec.payload
    [rec] = fake.requests
    assert (rec["method"], rec["path"], rec["body"]) == ("POST", spec.path, spec.payload)
    assert rec["response"]["status"] == spec.ok_status and rec["delivered"] is True
    assert fake.url.startswith("http://127.0.0.1:")


def test_missing_credentials_are_rejected_with_401(provider):
    # Given a fake; When the order is posted without its auth headers
    spec, fake, client = provider
    r = client.post(spec.path, json=spec.payload, headers={"Accept": "application/json"})
    # Then it is 401 and nothing is created
    assert r.status_code == 401
    assert fake.created_count(spec.key) == 0


def test_non_json_content_type_is_rejected(provider):
    spec, fake, client = provider
    r = client.post(spec.path, content=json.dumps(spec.payload), headers={**spec.headers, "Content-Type": "text/plain"})
    assert r.status_code == 415
    assert fake.created_count(spec.key) == 0


def test_unknown_path_and_wrong_method(provider):
    spec, _fake, client = provider
    assert client.delete(spec.path, headers=spec.headers).status_code == 405
    assert client.post("/api/v9/nothing", json={}, headers=spec.headers).status_code == 404


# --------------------------------------------------------------------------- Sign Customiser
def test_sc_answer_has_the_documented_response_shape(sc):
    # Given the documented request example; When it is posted
    r = post(sc, "/api/v2/orders", fixture("signcustomiser_create_order_request.json"), SC_HEADERS)
    # Then the body has exactly the documented keys, echoing the request's values
    documented = fixture("signcustomiser_create_order_response.json")["order"]
    order = r.json()["order"]
    assert order.keys() == documented.keys()
    assert order["products"][0].keys() == documented["products"][0].keys()
    assert order["order_id"] == 1
    assert order["external_id"] == "order-123456" and order["products"][0]["external_id"] == SC_PRODUCT


def test_sc_wrong_token_is_unauthenticated(sc):
    r = post(
        sc, "/api/v2/orders", fixture("signcustomiser_create_order_request.json"), {"Authorization": "Bearer nope"}
    )
    assert (r.status_code, r.json()) == (401, {"message": "Unauthenticated."})


def test_sc_validation_errors_are_laravel_shaped(sc):
    # Given an order missing a product id, with a float price and a lower-case currency
    body = fixture("signcustomiser_create_order_request.json")
    del body["products"][0]["external_id"]
    body["products"][0]["price"] = 29.99
    body["currency"] = "usd"
    # When posted; Then 422 lists each problem under its dotted field path
    r = post(sc, "/api/v2/orders", body, SC_HEADERS)
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert errors["products.0.external_id"] == ["The products.0.external_id field is required."]
    assert set(errors) == {"products.0.external_id", "products.0.price", "currency"}
    assert r.json()["message"].startswith("The ")
    assert sc.created_count("order-123456") == 0


def test_sc_rejects_unknown_products_and_wrong_integration(sc):
    # Given a product id the merchant never returned and another integration's id
    body = fixture("signcustomiser_create_order_request.json")
    body["products"][0]["external_id"] = "never-created"
    body["integration_id"] = 7
    r = post(sc, "/api/v2/orders", body, SC_HEADERS)
    assert r.status_code == 422
    assert r.json()["errors"] == {
        "integration_id": ["The selected integration id is invalid."],
        "products.0.external_id": ["The selected products.0.external_id is invalid."],
    }
    # When the product becomes known (over HTTP), the same product id is accepted
    cfg = HTTP.post(sc.url + "/_fake/config", json={"known_product_ids": ["never-created"]}).json()
    assert cfg["config"]["known_product_ids"] == ["never-created"]
    body["integration_id"] = 42
    assert post(sc, "/api/v2/orders", body, SC_HEADERS).status_code == 200


def test_sc_duplicates_create_new_orders(sc):
    # Given the same order posted twice (duplicate behaviour is undocumented)
    body = fixture("signcustomiser_create_order_request.json")
    ids = [post(sc, "/api/v2/orders", body, SC_HEADERS).json()["order"]["order_id"] for _ in range(2)]
    # Then the fake creates two orders, so the duplicate is visible
    assert ids == [1, 2]
    assert sc.created_count("order-123456") == 2 and len(sc.all_orders) == 2


class _Receiver:
    """A webhook endpoint on loopback that records what it receives and answers {"ok": true}."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.got = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, raw))
                data = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                outer.got.set()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        serve = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        serve.daemon = True
        serve.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sign-customiser/webhooks"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_sc_sends_signed_order_created_webhook_and_calls_hook():
    # Given a fake configured with a webhook URL, a secret and an in-process hook
    receiver, seen = _Receiver(), []
    fake = SignCustomiserFake(webhook_url=receiver.url, webhook_secret="whsec", on_order_created=seen.append)
    try:
        with fake:
            # When an order is created
            r = post(fake, "/api/v2/orders", fixture("signcustomiser_create_order_request.json"), SC_HEADERS)
            assert r.status_code == 200
            # Then the hook already ran, and a signed order:created delivery arrives
            assert seen == [r.json()["order"]]
            assert receiver.got.wait(3)
            [delivery] = fake.wait_for_webhooks(1)
    finally:
        receiver.close()
    headers, raw = receiver.received[0]
    ts = headers["x-webhook-timestamp"]
    assert abs(int(ts) - time.time()) < 60
    expected = hmac.new(b"whsec", f"{ts}.".encode() + raw, hashlib.sha256).hexdigest()
    assert headers["x-webhook-signature"] == expected
    assert delivery["status"] == 200 and delivery["error"] is None
    # And the body is shaped like the documented webhook example (state instead of province)
    order = json.loads(raw)["order"]
    documented = fixture("signcustomiser_webhook_order_created.json")["order"]
    assert set(documented) <= set(order)
    assert set(documented["products"][0]) <= set(order["products"][0])
    assert order["shipping_address"]["state"] == "CA" and "province" not in order["shipping_address"]
    assert (order["order_id"], order["external_id"], order["order_total"]) == (1, "order-123456", 2 * 2999)


# --------------------------------------------------------------------------- Dropday
def test_dropday_created_then_already_exists(dropday):
    # Given the documented example was created once
    body = fixture("dropday_create_order_request.json")
    first = post(dropday, "/api/v1/orders", body, DD_HEADERS)
    # When the same external_id is sent again
    second = post(dropday, "/api/v1/orders", body, DD_HEADERS)
    # Then both are 200, the second says it already exists, and only one order exists
    assert first.json() == {"message": "Order created", "reference": 1}
    assert (second.status_code, second.json()) == (200, {"message": "Order already exists"})
    assert dropday.created_count("L41223D") == 1 and len(dropday.requests) == 2


def test_dropday_missing_product_id_is_the_documented_422(dropday):
    body = fixture("dropday_create_order_request.json")
    del body["products"][0]["external_id"]
    r = post(dropday, "/api/v1/orders", body, DD_HEADERS)
    assert r.status_code == 422
    assert r.json() == {
        "message": "Errors",
        "errors": {"products.0.external_id": ["The products.0.external_id field is required."]},
    }


def test_dropday_rejects_string_amounts_bad_dates_and_wrong_account(dropday):
    body = fixture("dropday_create_order_request.json")
    body["total"] = "435.45"
    body["shipping"] = {"name": "DHL", "cost": 4.95, "delivery_date": "2025-01-31"}
    r = post(dropday, "/api/v1/orders", body, DD_HEADERS)
    assert r.status_code == 422
    assert set(r.json()["errors"]) == {"total", "shipping.delivery_date"}
    r = post(
        dropday,
        "/api/v1/orders",
        fixture("dropday_create_order_request.json"),
        {**DD_HEADERS, "account-id": "someone-else"},
    )
    assert (r.status_code, r.json()["message"]) == (401, "Unauthorized")


def test_dropday_accepts_the_newer_shipping_object(dropday):
    body = fixture("dropday_create_order_request.json")
    body["shipping"] = {
        "name": "DHL",
        "description": "Express",
        "cost": 4.95,
        "note": "",
        "delivery_date": "31-01-2025",
    }
    body["products"][0]["purchase_price"] = 5.5
    assert post(dropday, "/api/v1/orders", body, DD_HEADERS).status_code == 200


# --------------------------------------------------------------------------- Onward
def test_onward_echoes_then_409_on_duplicate(onward):
    body = fixture("onward_create_order_request.json")
    first = post(onward, "/api/v1/orders", body, ON_HEADERS)
    assert (first.status_code, first.json()) == (201, body)
    dup = post(onward, "/api/v1/orders", body, ON_HEADERS)
    assert (dup.status_code, dup.content) == (409, b"")
    assert onward.created_count("18282") == 1


def test_onward_422_lists_problems(onward):
    body = fixture("onward_create_order_request.json")
    del body["shipping_address"]["country_code"]
    body["line_items"][0]["quantity"] = "2"
    body["financial_status"] = "unpaid"
    r = post(onward, "/api/v1/orders", body, ON_HEADERS)
    assert r.status_code == 422
    assert sorted(r.json()["errors"]) == [
        "financial_status must be one of pending, paid, refunded, voided",
        "line_items.0.quantity must be an integer",
        "shipping_address.country_code is required",
    ]


def test_onward_requires_key_and_json_accept(onward):
    body = fixture("onward_create_order_request.json")
    assert post(onward, "/api/v1/orders", body, {"X-API-Key": "wrong", "Accept": "application/json"}).status_code == 401
    assert post(onward, "/api/v1/orders", body, {"X-API-Key": "onward-dev-key"}).status_code == 406


def test_onward_patch_updates_known_orders_only(onward):
    post(onward, "/api/v1/orders", fixture("onward_create_order_request.json"), ON_HEADERS)
    r = HTTP.patch(onward.url + "/api/v1/orders/18282", json={"financial_status": "refunded"}, headers=ON_HEADERS)
    assert r.status_code == 200 and r.json()["financial_status"] == "refunded"
    assert onward.orders["18282"]["updates"] == [{"financial_status": "refunded"}]
    r = HTTP.patch(onward.url + "/api/v1/orders/nope", json={"financial_status": "paid"}, headers=ON_HEADERS)
    assert r.status_code == 404


# --------------------------------------------------------------------------- faults
@pytest.mark.parametrize(
    ("fault", "status", "body"),
    [
        ({"status": 429, "headers": {"Retry-After": "2"}}, 429, None),
        ({"status": 500}, 500, None),
        ({"status": 503}, 503, None),
        (
            {"status": 422, "body": {"message": "Errors", "errors": {"x": ["bad"]}}},
            422,
            {"message": "Errors", "errors": {"x": ["bad"]}},
        ),
        ({"status": 409}, 409, b""),
    ],
)
def test_status_faults_answer_without_creating(provider, fault, status, body):
    # Given a scripted fault; When a valid order is posted
    spec, fake, client = provider
    fake.add_faults(fault)
    r = client.post(spec.path, json=spec.payload, headers=spec.headers)
    # Then the client gets the scripted answer and no order is created
    assert r.status_code == status
    if status == 429:
        assert r.headers["Retry-After"] == "2"
    if isinstance(body, dict):
        assert r.json() == body
    elif body == b"":
        assert r.content == b""
    assert fake.created_count(spec.key) == 0
    assert fake.requests[0]["fault"] == fault
    # And the fault is consumed: the retry goes through
    assert client.post(spec.path, json=spec.payload, headers=spec.headers).status_code == spec.ok_status


def test_drop_closes_before_processing(provider):
    spec, fake, client = provider
    fake.add_faults({"drop": True})
    with pytest.raises(httpx.TransportError):
        client.post(spec.path, json=spec.payload, headers=spec.headers)
    assert fake.created_count(spec.key) == 0
    assert fake.requests[0]["outcome"] == "dropped" and fake.requests[0]["response"] is None


def test_accept_then_drop_creates_but_never_answers(provider):
    # Given an accept_then_drop fault
    spec, fake, client = provider
    fake.add_faults({"accept_then_drop": True})
    # When the order is posted, Then the client sees a connection error...
    with pytest.raises(httpx.TransportError):
        client.post(spec.path, json=spec.payload, headers=spec.headers)
    # ...but the destination has the order
    assert fake.created_count(spec.key) == 1
    rec = fake.requests[0]
    assert (rec["outcome"], rec["delivered"], rec["response"]["status"]) == (
        "accepted_then_dropped",
        False,
        spec.ok_status,
    )


def test_accept_then_status_creates_and_answers_the_error(provider):
    # Given a gateway that answers 502 after the application acted
    spec, fake, client = provider
    fake.add_faults({"status": 502, "accept": True})
    # When the order is posted, Then the client sees the 502...
    assert client.post(spec.path, json=spec.payload, headers=spec.headers).status_code == 502
    # ...but the destination has the order
    assert fake.created_count(spec.key) == 1
    assert fake.requests[0]["outcome"] == "accepted_then_answered"


def test_hang_triggers_client_timeout_then_processes(dropday):
    # Given a hang longer than the client's timeout
    dropday.add_faults({"hang": 0.4})
    body = fixture("dropday_create_order_request.json")
    # When posted, Then the client times out
    with pytest.raises(httpx.TimeoutException):
        post(dropday, "/api/v1/orders", body, DD_HEADERS, timeout=0.1)
    # And the fake still processes the request once the hang is over
    assert dropday.wait_for(lambda: dropday.created_count("L41223D") == 1, timeout=3)


def test_fault_filters_match_by_method(onward):
    # Given a fault only for PATCH, the POST goes through and the PATCH takes the fault
    onward.add_faults({"status": 503, "method": "PATCH"})
    assert post(onward, "/api/v1/orders", fixture("onward_create_order_request.json"), ON_HEADERS).status_code == 201
    r = HTTP.patch(onward.url + "/api/v1/orders/18282", json={"financial_status": "paid"}, headers=ON_HEADERS)
    assert r.status_code == 503 and onward.pending_faults == []


def _outcomes(fake: FakeServer, n: int) -> list[Any]:
    body = fixture("dropday_create_order_request.json")
    out: list[Any] = []
    for i in range(n):
        try:
            out.append(post(fake, "/api/v1/orders", {**body, "external_id": f"o{i}"}, DD_HEADERS).status_code)
        except httpx.TransportError:
            out.append("dropped")
    return out


def test_random_mode_is_seeded_and_uses_the_documented_kinds():
    with DropdayFake(fail_rate=0.3, seed=123) as a, DropdayFake(fail_rate=0.3, seed=123) as b:
        first, second = _outcomes(a, 20), _outcomes(b, 20)
    assert first == second  # same seed, same chaos
    assert set(first) <= {200, 429, 500, 503, "dropped"} and set(first) - {200}
    with DropdayFake(fail_rate=1.0, seed=1) as always:
        assert 200 not in _outcomes(always, 8)
        assert all(r["fault"]["random"] for r in always.requests)


def test_bad_faults_are_refused(dropday):
    with pytest.raises(ValueError):
        dropday.add_faults({"explode": True})
    r = HTTP.post(dropday.url + "/_fake/faults", json=[{"status": "500"}])
    assert r.status_code == 400


def test_control_endpoints_over_http(dropday):
    # Given faults queued over HTTP (as for a fake in another process)
    ctl = httpx.Client(base_url=dropday.url + "/_fake", verify=SSL)
    assert (
        ctl.post("/faults", json=[{"status": 503}, {"status": 429, "headers": {"Retry-After": "1"}}]).status_code == 200
    )
    body = fixture("dropday_create_order_request.json")
    # When three orders are posted, Then the faults are used in order
    statuses = [post(dropday, "/api/v1/orders", body, DD_HEADERS).status_code for _ in range(3)]
    assert statuses == [503, 429, 200]
    reqs = ctl.get("/requests").json()["requests"]
    assert [r["response"]["status"] for r in reqs] == [503, 429, 200]
    orders = ctl.get("/orders").json()
    assert orders["counts"] == {"L41223D": 1} and orders["orders"]["L41223D"]["id"] == 1
    assert ctl.post("/config", json={"fail_rate": 0.5, "seed": 3}).json()["config"]["fail_rate"] == 0.5
    assert ctl.post("/config", json={"nonsense": 1}).status_code == 400
    # And reset forgets everything, including random mode
    assert ctl.post("/reset").json() == {"ok": True}
    assert ctl.get("/requests").json() == {"requests": []}
    assert ctl.get("/config").json()["config"]["fail_rate"] == 0.0
    assert post(dropday, "/api/v1/orders", body, DD_HEADERS).json()["reference"] == 1
    ctl.close()


def test_stop_returns_promptly_with_a_hung_request(dropday):
    # Given a request hanging for much longer than the test
    dropday.add_faults({"hang": 30})
    errors: list[Exception] = []

    def hung_client() -> None:
        try:
            post(dropday, "/api/v1/orders", {}, DD_HEADERS, timeout=5)
        except httpx.TransportError as exc:
            errors.append(exc)

    t = threading.Thread(target=hung_client)
    t.start()
    assert dropday.wait_for(lambda: len(dropday.requests) == 1, timeout=2)
    # When the fake stops, Then it does so at once and the hung client gets a connection error
    started = time.monotonic()
    dropday.stop()
    t.join(3)
    assert time.monotonic() - started < 2 and not t.is_alive() and len(errors) == 1
    assert dropday.requests[0]["outcome"] == "dropped"


# --------------------------------------------------------------------------- CLI
def test_cli_runs_all_three_and_writes_state(tmp_path):
    # Given the demo process started on free ports
    state_file = tmp_path / "fakes.json"
    env = {**os.environ, "SIGNBRIDGE_FAKE_ONWARD_API_KEY": "from-env"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "signbridge_tools.fakes",
            "--host",
            "127.0.0.1",
            "--state-file",
            str(state_file),
            "--dropday-api-key",
            "flag-key",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 8
        while not state_file.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        # Then the state file holds URLs and credentials (flags > env > defaults)
        state = json.loads(state_file.read_text())
        sc = state["signcustomiser"]
        assert (sc["token"], sc["integration_id"]) == ("sc-dev-token", 42)
        assert (state["dropday"]["api_key"], state["dropday"]["account_id"]) == ("flag-key", "dd-dev-account")
        assert state["onward"]["api_key"] == "from-env"
        # And each fake answers on its URL with those credentials
        body = copy.deepcopy(fixture("dropday_create_order_request.json"))
        r = HTTP.post(
            state["dropday"]["orders_url"], json=body, headers={"api-key": "flag-key", "account-id": "dd-dev-account"}
        )
        assert r.status_code == 200
        sc_body = fixture("signcustomiser_create_order_request.json")
        r = HTTP.post(sc["orders_url"], json=sc_body, headers=SC_HEADERS)
        assert r.status_code == 200
        assert HTTP.get(state["onward"]["control_url"] + "/requests").json() == {"requests": []}
    finally:
        # When it gets SIGTERM, Then it exits cleanly and removes the state file
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=5)
    assert proc.returncode == 0, err
    assert not state_file.exists()
