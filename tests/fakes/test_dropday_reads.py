"""The Dropday fake's reads after create: `GET /api/v1/orders` (filters, pagination) and
`GET /api/v1/orders/{reference}` (each line's status over time), against the documented contract."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from signbridge_tools.fakes import DropdayFake

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
HEADERS = {"api-key": "dd-dev-key", "account-id": "dd-dev-account", "Accept": "application/json"}
CREATED_AT = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(CREATED_AT)


@pytest.fixture
def dropday(clock: Clock) -> Iterator[DropdayFake]:
    fake = DropdayFake()
    fake.clock = clock
    with fake:
        yield fake


@pytest.fixture
def http(dropday: DropdayFake) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dropday.url, headers=HEADERS, timeout=2.0) as client:
        yield client


def order(external_id: str, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(json.loads((FIXTURES / "dropday_create_order_request.json").read_text()))
    return body | {"external_id": external_id} | changes


def create(http: httpx.Client, body: dict[str, Any]) -> int:
    answer = http.post("/api/v1/orders", json=body)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["reference"])


def test_a_read_with_the_right_key_lists_one_order_and_changes_nothing(dropday, http):
    # Given two orders at Dropday
    create(http, order("A-1"))
    create(http, order("A-2"))
    # When the merchant's key reads one order's worth of the list
    answer = http.get("/api/v1/orders", params={"per_page": 1})
    # Then it is accepted, shows the newest order and says how many there are
    assert answer.status_code == 200
    body = answer.json()
    assert [o["external_id"] for o in body["data"]] == ["A-2"]
    assert body["meta"] | {"path": None} == {
        "current_page": 1,
        "from": 1,
        "last_page": 2,
        "path": None,
        "per_page": 1,
        "to": 1,
        "total": 2,
    }
    assert body["links"]["next"].endswith("?page=2") and body["links"]["prev"] is None
    assert dropday.counts() == {"A-1": 1, "A-2": 1}


def test_a_refused_key_reads_the_documented_401(http):
    answer = http.get("/api/v1/orders", params={"per_page": 1}, headers={"api-key": "revoked"})
    assert answer.status_code == 401
    assert answer.json()["message"] == "Unauthorized" and answer.json()["error"]


def test_an_unknown_reference_is_the_documented_404(http):
    answer = http.get("/api/v1/orders/977")
    assert (answer.status_code, answer.json()) == (
        404,
        {"message": "Not Found", "error": "Order with reference '977' not found"},
    )


def test_each_line_follows_its_script_as_the_clock_moves(dropday, http, clock):
    # Given an order whose lines Dropday routes to suppliers over the next minutes
    reference = create(http, order("S-1"))
    dropday.script_status(
        reference,
        [
            (60, "1", "ruled", "Mario"),
            (120, "1", "completed", "Mario"),
            (300, "2", "completed", "The Coca Cola Company"),
        ],
    )
    # When it is read at creation, after two minutes and after five
    seen = {}
    for elapsed in (0, 120, 300):
        clock.now = CREATED_AT + elapsed
        seen[elapsed] = http.get(f"/api/v1/orders/{reference}").json()["data"]

    # Then each read shows the changes whose time had come
    assert [seen[t]["status"] for t in (0, 120, 300)] == ["pending", "partially_completed", "completed"]
    line = {p["external_id"]: p for p in seen[120]["products"]}
    assert (line["1"]["current_status"], line["1"]["supplier"]) == ("completed", "Mario")
    assert (line["2"]["current_status"], line["2"]["supplier"]) == ("pending", None)
    assert [(e["status"], e["created_at"]) for e in line["1"]["status_log"]] == [
        ("pending", "2026-01-01T00:00:00+00:00"),
        ("ruled", "2026-01-01T00:01:00+00:00"),
        ("completed", "2026-01-01T00:02:00+00:00"),
    ]
    assert seen[300]["updated_at"] == "2026-01-01T00:05:00+00:00"


def test_the_list_filters_by_status_external_id_test_and_dates(dropday, http, clock):
    # Given a failed order, a pending one, a test order and one created the next day
    failed = create(http, order("F-1"))
    dropday.script_status(failed, [(0, "1", "failed", None), (0, "2", "failed", None)])
    create(http, order("P-1"))
    create(http, order("T-1", test=True))
    clock.now = CREATED_AT + 86_400
    create(http, order("N-1"))

    def listed(**params: Any) -> list[str]:
        answer = http.get("/api/v1/orders", params=params)
        assert answer.status_code == 200, answer.text
        return [o["external_id"] for o in answer.json()["data"]]

    # Then each filter narrows the list as documented
    assert listed() == ["N-1", "P-1", "F-1"]
    assert listed(include_test="true") == ["N-1", "T-1", "P-1", "F-1"]
    assert listed(statuses="failed") == ["F-1"]
    assert listed(**{"statuses[]": ["failed", "pending"]}) == ["N-1", "P-1", "F-1"]
    assert listed(external_id="P-1") == ["P-1"]
    assert listed(date_from="2026-01-02") == ["N-1"]
    assert listed(date_to="2026-01-01") == ["P-1", "F-1"]
    assert listed(per_page=2, page=2) == ["F-1"]


def test_malformed_list_parameters_are_laravel_422s(http):
    answer = http.get("/api/v1/orders", params={"per_page": 101, "statuses": "shipped", "date_from": "01-01-2026"})
    assert answer.status_code == 422
    assert answer.json() == {
        "message": "Errors",
        "errors": {
            "per_page": ["The per page field must be between 1 and 100."],
            "statuses.0": ["The selected statuses.0 is invalid."],
            "date_from": ["The date from field must match the format Y-m-d."],
        },
    }


def test_a_script_naming_an_unknown_line_or_status_is_refused(dropday, http):
    reference = create(http, order("X-1"))
    with pytest.raises(ValueError, match="no line"):
        dropday.script_status(reference, [(1, "9", "completed", None)])
    with pytest.raises(ValueError, match="status"):
        dropday.script_status(reference, [(1, "1", "partially_completed", None)])
    with pytest.raises(ValueError, match="no order"):
        dropday.script_status(404, [])


def test_a_script_can_be_sent_over_http_to_the_fake_in_another_process(dropday, http):
    reference = create(http, order("H-1"))
    answer = http.post("/_fake/script", json={"reference": reference, "changes": [[0, "1", "declined", None]]})
    assert answer.status_code == 200
    lines = http.get(f"/api/v1/orders/{reference}").json()["data"]["products"]
    assert [p["current_status"] for p in lines] == ["declined", "pending"]
    refused = http.post("/_fake/script", json={"reference": reference, "changes": [[0, "7", "declined", None]]})
    assert refused.status_code == 400
