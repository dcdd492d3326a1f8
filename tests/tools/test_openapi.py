"""openapi.json: Given the committed contract, Then it is what the code generates, valid OpenAPI 3.1,
and its schemas accept what the API really takes and returns."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from signbridge.logic.orders import order_view
from signbridge.models.items import DeliveryError, DeliveryRecord, DeliveryState, OrderRecord
from signbridge.settings import Destination
from signbridge.store import OrderState
from signbridge_tools.openapi import OPENAPI_PATH, REGENERATE, build_openapi, diff_summary, main, render
from tests.support.events import fixture
from tests.support.template import ROOT, template

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))


def validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for ``schema`` whose ``#/components/...`` references resolve in ``document``."""
    return Draft202012Validator({**schema, "components": document["components"]})


def schema_errors(document: dict[str, Any], schema: dict[str, Any], instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in validator(document, schema).iter_errors(instance)
    ]


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def resolve(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


# --- (1) the committed file is what the code generates ---------------------------------------
def test_committed_openapi_matches_the_code() -> None:
    committed = OPENAPI_PATH.read_text(encoding="utf-8") if OPENAPI_PATH.exists() else ""
    generated = render(build_openapi())

    if committed != generated:
        pytest.fail(
            f"openapi.json is out of date with the code. Regenerate it with `{REGENERATE}` "
            f"(from the repository root, in the project's venv) and commit the result.\n"
            + diff_summary(committed, generated),
            pytrace=False,
        )


def test_check_command_names_the_regenerate_command_when_the_file_is_stale(tmp_path, capsys) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text(OPENAPI_PATH.read_text(encoding="utf-8").replace('"title": "signbridge"', '"title": "old"'))

    assert main(["--check", "--output", str(OPENAPI_PATH)]) == 0
    assert main(["--check", "--output", str(stale)]) == 1
    report = capsys.readouterr().err
    assert REGENERATE in report
    assert '-    "title": "old",' in report


def test_generate_command_writes_sorted_two_space_json_with_a_trailing_newline(tmp_path) -> None:
    target = tmp_path / "openapi.json"

    assert main(["--output", str(target)]) == 0

    text = target.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- (2) valid OpenAPI 3.1 ---------------------------------------------------------------------
def test_document_is_valid_openapi_3_1_per_openapi_spec_validator(document) -> None:
    spec_validator = pytest.importorskip(
        "openapi_spec_validator", reason="add openapi-spec-validator to the dev extras to run this check"
    )
    spec_validator.validate(document)


def test_document_is_structurally_sound_openapi_3_1(document) -> None:
    """What can be checked without openapi-spec-validator."""
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] and document["info"]["version"]
    unresolved = sorted({ref for ref in refs(document) if not ref.startswith("#/")})
    assert unresolved == [], "only local references are used"
    for ref in set(refs(document)):
        resolve(document, ref)  # KeyError names a dangling reference
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)  # SchemaError names what is wrong

    operation_ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(operation_ids) == len(set(operation_ids)), "operationIds are unique"
    schemes = document["components"]["securitySchemes"]
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        parameters = [resolve(document, p["$ref"]) if "$ref" in p else p for p in operation.get("parameters", [])]
        templated = set(re.findall(r"{([^}]+)}", path))
        declared = {p["name"] for p in parameters if p["in"] == "path"}
        assert templated == declared, f"{where}: path parameters match the template"
        assert all(p["required"] is True for p in parameters if p["in"] == "path"), where
        for requirement in operation.get("security", []):
            assert set(requirement) <= set(schemes), f"{where}: security names a declared scheme"
        assert operation["responses"], where
        for status, response in operation["responses"].items():
            assert re.fullmatch(r"[1-5][0-9][0-9]", status), f"{where}: {status}"
            assert response["description"], f"{where} {status}: has a description"


def test_every_example_fits_its_schema(document) -> None:
    checked = 0
    for path, method, operation in operations(document):
        bodies = [("request", operation.get("requestBody", {})), *operation["responses"].items()]
        for label, body in bodies:
            for media in body.get("content", {}).values():
                if "example" in media:
                    errors = schema_errors(document, media["schema"], media["example"])
                    assert errors == [], f"{method.upper()} {path} {label} example: {errors}"
                    checked += 1
    assert checked >= 6


# --- (3) the schemas accept what the API really takes and returns -------------------------------
def test_canonical_order_example_validates_against_the_order_schema(document) -> None:
    order_schema = {"$ref": "#/components/schemas/Order"}
    canonical = fixture("canonical_order.json")

    assert schema_errors(document, order_schema, canonical) == []
    # And the schema is not vacuous: an order without lines or with float money is refused.
    assert schema_errors(document, order_schema, {**canonical, "line_items": []})
    assert schema_errors(document, order_schema, {**canonical, "total": 86.43})
    assert document["paths"]["/orders"]["post"]["requestBody"]["content"]["application/json"]["example"] == canonical


def test_order_view_schema_covers_every_field_order_view_returns(document) -> None:
    """Given a delivery with every field set, When order_view renders it, Then the schema knows each field."""
    at = "2025-10-22T00:56:01+00:00"
    record = OrderRecord(
        order_id="o-1", origin="platform", received_at=at, body="{}", digest="d", destinations=["dropday"]
    )
    delivery = DeliveryRecord(
        order_id="o-1",
        destination=Destination.DROPDAY,
        state=DeliveryState.RETRYING,
        attempts=3,
        destination_ref="dd-1",
        last_error=DeliveryError(code="rejected", message="no", status=422, fields={"sku": ["unknown"]}),
        updated_at=at,
        attempt_id="a-1",
        lease_until=1,
        in_doubt_since=1_761_094_509,
    )
    view = order_view(OrderState(order=record, deliveries=[delivery], sc_order_ids=[7]))

    schemas = document["components"]["schemas"]
    assert schema_errors(document, {"$ref": "#/components/schemas/OrderView"}, view) == []
    assert set(view) <= set(schemas["OrderView"]["properties"])
    assert set(view["deliveries"]["dropday"]) <= set(schemas["DeliveryView"]["properties"])
    assert set(view["deliveries"]["dropday"]["last_error"]) <= set(schemas["LastError"]["properties"])


def test_routes_and_api_keys_match_template(document) -> None:
    """The template is the source of truth for routes; the document lists the same ones."""
    routes = {}
    for resource in template()["Resources"].values():
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event["Type"] == "Api":
                props = event["Properties"]
                key = (props["Path"], props["Method"].lower())
                routes[key] = props.get("Auth", {}).get("ApiKeyRequired", False)
    documented = {(path, method): bool(op.get("security")) for path, method, op in operations(document)}

    assert documented == routes
    stage = template()["Parameters"]["StageName"]["Default"]
    assert document["servers"][0]["variables"]["stage"]["default"] == stage
    assert (ROOT / "openapi.json") == OPENAPI_PATH
