"""Destination clients: Given what a destination answers (or fails to), Then the outcome the forwarder
acts on: accepted, duplicate, rejected for content, rejected for configuration, or worth retrying."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signbridge.destinations.dropday import client as dropday
from signbridge.destinations.dropday.client import DropdayClient
from signbridge.destinations.onward import client as onward
from signbridge.destinations.onward.client import OnwardClient
from signbridge.destinations.onward.models import OnwardOrder
from signbridge.destinations.signcustomiser import client as signcustomiser
from signbridge.destinations.signcustomiser.client import SignCustomiserClient
from signbridge.destinations.signcustomiser.models import ScCreateOrderRequest
from signbridge.outbound_http import encode, post
from signbridge.outcomes import Accepted, AuthRejected, Duplicate, Outcome, Rejected, Transient
from signbridge.retry import attempt_times, backoff_seconds
from signbridge.settings import RetrySchedule, Settings
from signbridge_tools.fakes import DropdayFake, OnwardFake, SignCustomiserFake

PROVIDERS = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
SHOP_ORDER_ID = "18282"  # the documented Onward example's shop_order_id


def example(name: str) -> dict[str, Any]:
    return json.loads((PROVIDERS / name).read_text())


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request("POST", "https://destination.test/orders")
    if body is None:
        return httpx.Response(status, headers=headers, request=request)
    if isinstance(body, str):
        return httpx.Response(status, text=body, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


CLASSIFIERS: dict[str, Callable[[httpx.Response], Outcome]] = {
    "signcustomiser": signcustomiser.classify,
    "dropday": dropday.classify,
    "onward": onward.classify_for(SHOP_ORDER_ID),
}


@pytest.fixture(params=sorted(CLASSIFIERS))
def classify(request: pytest.FixtureRequest) -> Callable[[httpx.Response], Outcome]:
    return CLASSIFIERS[request.param]


# --------------------------------------------------------------------------- Dropday
def test_dropday_order_created_is_accepted_with_its_reference():
    outcome = dropday.classify(answer(200, {"message": "Order created", "reference": 98}))
    assert outcome == Accepted("98")


def test_dropday_order_already_exists_is_a_duplicate_not_an_error():
    outcome = dropday.classify(answer(200, {"message": "Order already exists"}))
    assert isinstance(outcome, Duplicate)


def test_dropday_422_is_rejected_with_the_fields_it_names():
    errors = {"products.0.external_id": ["The products.0.external_id field is required."]}
    outcome = dropday.classify(answer(422, {"message": "Errors", "errors": errors}))
    assert outcome == Rejected(422, "Errors", errors)


# --------------------------------------------------------------------------- Onward
def test_onward_201_is_accepted_under_the_shop_order_id():
    outcome = onward.classify_for(SHOP_ORDER_ID)(answer(201, example("onward_create_order_request.json")))
    assert outcome == Accepted(SHOP_ORDER_ID)


def test_onward_409_with_an_empty_body_is_a_duplicate():
    assert onward.classify_for(SHOP_ORDER_ID)(answer(409)) == Duplicate(SHOP_ORDER_ID)


@pytest.mark.parametrize("key", ["errors", "error"])
def test_onward_422_is_rejected_with_its_list_of_problems(key):
    # The guide says `errors`, the reference says `error`: both are read.
    problems = ["Name is required", "shipping_address.province_code is invalid"]
    outcome = onward.classify_for(SHOP_ORDER_ID)(answer(422, {key: problems}))
    assert isinstance(outcome, Rejected)
    assert (outcome.status, outcome.fields) == (422, problems)


# --------------------------------------------------------------------------- Sign Customiser
def test_sign_customiser_documented_200_is_accepted_with_its_order_id():
    outcome = signcustomiser.classify(answer(200, example("signcustomiser_create_order_response.json")))
    assert outcome == Accepted("1")


@pytest.mark.parametrize(
    "body", [{}, {"order": {}}, {"ok": True}, "<html>OK</html>"], ids=["empty", "no-id", "other", "html"]
)
def test_sign_customiser_200_without_an_order_may_have_been_delivered(body):
    # Something answered 200 but we cannot tell the order exists: retry only with care.
    outcome = signcustomiser.classify(answer(200, body))
    assert isinstance(outcome, Transient)
    assert outcome.maybe_delivered is True


def test_sign_customiser_422_is_rejected_with_laravels_fields():
    errors = {"products.0.external_id": ["The selected products.0.external_id is invalid."]}
    outcome = signcustomiser.classify(answer(422, {"message": "The selected ... is invalid.", "errors": errors}))
    assert isinstance(outcome, Rejected)
    assert outcome.fields == errors


# --------------------------------------------------------------------------- shared rules
@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_an_auth_rejection(classify, status):
    outcome = classify(answer(status, {"message": "Unauthenticated."}))
    assert outcome == AuthRejected(status, "Unauthenticated.")


def test_a_not_found_endpoint_is_a_configuration_problem(classify):
    outcome = classify(answer(404, "<html>Not Found</html>"))
    assert isinstance(outcome, AuthRejected)
    assert "URL" in outcome.message


def test_429_with_retry_after_seconds_is_transient_with_the_wait(classify):
    outcome = classify(answer(429, {"message": "Too Many Attempts."}, {"Retry-After": "7"}))
    assert isinstance(outcome, Transient)
    assert (outcome.status, outcome.retry_after) == (429, 7)


def test_429_with_retry_after_as_an_http_date_waits_until_then(classify):
    when = datetime.now(UTC) + timedelta(seconds=30)
    outcome = classify(answer(429, None, {"Retry-After": format_datetime(when, usegmt=True)}))
    assert isinstance(outcome, Transient)
    assert outcome.retry_after is not None
    assert 25 <= outcome.retry_after <= 30


def test_retry_after_in_the_past_means_now(classify):
    when = datetime.now(UTC) - timedelta(minutes=5)
    outcome = classify(answer(429, None, {"Retry-After": format_datetime(when, usegmt=True)}))
    assert isinstance(outcome, Transient)
    assert outcome.retry_after == 0


@pytest.mark.parametrize("header", [None, "soon", ""])
def test_429_without_a_readable_retry_after_is_transient_without_a_wait(classify, header):
    outcome = classify(answer(429, None, {"Retry-After": header} if header is not None else None))
    assert isinstance(outcome, Transient)
    assert outcome.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_errors_are_transient(classify, status):
    outcome = classify(answer(status, "<html>Bad Gateway</html>"))
    assert isinstance(outcome, Transient)
    assert outcome.status == status


def test_503_with_retry_after_carries_the_wait(classify):
    outcome = classify(answer(503, None, {"Retry-After": "120"}))
    assert isinstance(outcome, Transient)
    assert outcome.retry_after == 120


# --------------------------------------------------------------------------- transport failures
def failing_with(error: type[httpx.TransportError]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error("simulated", request=request)

    return httpx.Client(base_url="https://destination.test", transport=httpx.MockTransport(handler))


@pytest.fixture
def onward_order() -> OnwardOrder:
    return OnwardOrder.model_validate(example("onward_create_order_request.json"))


@pytest.mark.parametrize(
    ("error", "maybe_delivered"),
    [
        (httpx.ConnectError, False),
        (httpx.ConnectTimeout, False),
        (httpx.ReadTimeout, True),
        (httpx.WriteTimeout, True),
        (httpx.PoolTimeout, False),  # waited for a free connection: nothing was sent
        (httpx.RemoteProtocolError, True),
        (httpx.ReadError, True),
    ],
)
def test_a_transport_failure_is_transient_and_says_whether_the_order_may_have_arrived(
    onward_order, error, maybe_delivered
):
    # Given a destination that cannot be reached in this particular way
    with failing_with(error) as client:
        # When an order is posted
        outcome = post(client, "/api/v1/orders", onward_order, onward.classify_for(SHOP_ORDER_ID))
    # Then it is worth retrying, and we know whether a retry could double the order
    assert isinstance(outcome, Transient)
    assert outcome.maybe_delivered is maybe_delivered
    assert error.__name__ in outcome.message


def test_post_sends_the_encoded_body_and_classifies_the_answer(onward_order):
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(409)

    with httpx.Client(base_url="https://destination.test", transport=httpx.MockTransport(handler)) as client:
        outcome = post(client, "/api/v1/orders", onward_order, onward.classify_for(SHOP_ORDER_ID))
    assert outcome == Duplicate(SHOP_ORDER_ID)
    assert json.loads(seen[0]) == json.loads(encode(onward_order))


# --------------------------------------------------------------------------- against the fakes
def test_dropday_client_creates_once_then_sees_a_duplicate():
    from signbridge.destinations.dropday.models import DropdayOrder

    order = DropdayOrder.model_validate(example("dropday_create_order_request.json"))
    with DropdayFake() as fake:
        client = DropdayClient(fake.url, "dd-dev-key", "dd-dev-account", timeout_seconds=5)
        first, second = client.create_order(order), client.create_order(order)
        assert fake.created_count("L41223D") == 1
    assert first == Accepted("1")
    assert isinstance(second, Duplicate)


def test_dropday_client_with_a_wrong_key_is_an_auth_rejection():
    from signbridge.destinations.dropday.models import DropdayOrder

    order = DropdayOrder.model_validate(example("dropday_create_order_request.json"))
    with DropdayFake() as fake:
        outcome = DropdayClient(fake.url, "wrong", "dd-dev-account", timeout_seconds=5).create_order(order)
    assert isinstance(outcome, AuthRejected)
    assert outcome.status == 401


def test_onward_client_creates_once_then_sees_a_duplicate(onward_order):
    with OnwardFake() as fake:
        client = OnwardClient(fake.url, "onward-dev-key", timeout_seconds=5)
        first, second = client.create_order(onward_order), client.create_order(onward_order)
        assert fake.created_count(SHOP_ORDER_ID) == 1
    assert first == Accepted(SHOP_ORDER_ID)
    assert second == Duplicate(SHOP_ORDER_ID)


def test_sign_customiser_client_is_accepted_with_the_new_order_id():
    request = ScCreateOrderRequest.model_validate(example("signcustomiser_create_order_request.json"))
    with SignCustomiserFake(known_product_ids=["your-product-id-123"]) as fake:
        outcome = SignCustomiserClient(fake.url, "sc-dev-token", timeout_seconds=5).create_order(request)
    assert outcome == Accepted("1")


def test_sign_customiser_client_unknown_product_is_rejected_with_the_field():
    request = ScCreateOrderRequest.model_validate(example("signcustomiser_create_order_request.json"))
    with SignCustomiserFake(known_product_ids=["another-product"]) as fake:
        outcome = SignCustomiserClient(fake.url, "sc-dev-token", timeout_seconds=5).create_order(request)
    assert isinstance(outcome, Rejected)
    assert outcome.status == 422
    assert isinstance(outcome.fields, dict) and "products.0.external_id" in outcome.fields


# --------------------------------------------------------------------------- backoff
SCHEDULE = RetrySchedule(base=2, cap=60, horizon=3_600, held=300)


def always(value: float) -> Callable[[], float]:
    return lambda: value


@pytest.mark.parametrize(
    ("elapsed", "delay"), [(0, 2), (2, 2), (4, 4), (8, 8), (16, 16), (45, 45), (60, 60), (900, 60)]
)
def test_backoff_waits_about_as_long_again_as_the_run_has_lasted_up_to_the_maximum(elapsed, delay):
    assert backoff_seconds(elapsed, SCHEDULE, None, always(1.0)) == delay


def test_backoff_jitter_keeps_at_least_half_the_step():
    assert backoff_seconds(16, SCHEDULE, None, always(0.0)) == 8
    assert backoff_seconds(16, SCHEDULE, None, always(0.5)) == 12


@pytest.mark.parametrize(("retry_after", "delay"), [(45, 45), (7, 7), (1000, 1000), (100_000, 43_200)])
def test_retry_after_is_honoured_up_to_the_longest_wait_sqs_can_carry(retry_after, delay):
    assert backoff_seconds(0, SCHEDULE, retry_after, always(0.0)) == delay


def test_retry_after_shorter_than_the_backoff_does_not_shorten_it():
    assert backoff_seconds(32, SCHEDULE, 3, always(1.0)) == 32


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    elapsed=st.integers(min_value=0, max_value=10**6),
    jitter=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    retry_after=st.none() | st.integers(min_value=0, max_value=10_000),
    base=st.integers(min_value=1, max_value=30),
    maximum=st.integers(min_value=1, max_value=43_200),
)
def test_property_backoff_never_exceeds_the_maximum_and_never_precedes_retry_after(
    elapsed, jitter, retry_after, base, maximum
):
    schedule = RetrySchedule(base=base, cap=maximum, horizon=86_400, held=300)
    delay = backoff_seconds(elapsed, schedule, retry_after, always(jitter))
    assert 0 <= delay <= max(maximum, retry_after or 0)
    if retry_after is not None:
        assert delay >= retry_after


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(elapsed=st.integers(min_value=0, max_value=10**5))
def test_property_the_wait_grows_with_the_run(elapsed):
    assert backoff_seconds(elapsed, SCHEDULE, None, always(1.0)) <= backoff_seconds(
        elapsed + 1, SCHEDULE, None, always(1.0)
    )


def test_a_fractional_retry_after_is_never_undercut():
    assert backoff_seconds(0, SCHEDULE, 7.5, always(0.0)) >= 7.5


def test_the_default_schedule_retries_for_96_hours_and_tries_once_more_at_the_horizon():
    schedule = Settings(table_name="t").retry_schedule("dropday")
    times = attempt_times(schedule)
    assert times[0] == 0
    assert times[-1] == 96 * 3600  # the last attempt is at the horizon itself
    assert all(later > earlier for earlier, later in itertools.pairwise(times))
    waits = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert max(waits) <= 3600  # never more than an hour between attempts once the run is long
    assert 90 < len(times) < 120


def test_a_destination_can_have_its_own_schedule(monkeypatch):
    monkeypatch.setenv("RETRY_SCHEDULES", '{"onward": {"horizon_seconds": 7200, "max_seconds": 600}}')
    configured = Settings(table_name="t")
    assert configured.retry_schedule("onward").horizon == 7200
    assert configured.retry_schedule("onward").cap == 600
    assert configured.retry_schedule("dropday").horizon == 96 * 3600


def test_the_time_scale_shrinks_every_wait_for_drills(monkeypatch):
    monkeypatch.setenv("RETRY_TIME_SCALE", "0.001")
    schedule = Settings(table_name="t").retry_schedule("dropday")
    assert attempt_times(schedule)[-1] == pytest.approx(96 * 3.6)
