"""template.yaml: Given the API's routes, Then each has its own throttle, and the Sign Customiser
routes and the platform's /orders routes are limited by separate parameters (one caller's flood
cannot use up another's allowance)."""

from __future__ import annotations

from typing import Any

from tests.support.template import template


def api_routes() -> list[tuple[str, str]]:
    routes = []
    for resource in template()["Resources"].values():
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event["Type"] == "Api":
                routes.append((event["Properties"]["Path"], event["Properties"]["Method"].upper()))
    return routes


def method_setting(path: str, method: str) -> dict[str, Any]:
    settings = template()["Resources"]["Api"]["Properties"]["MethodSettings"]
    encoded = "/" + path.replace("/", "~1")  # CloudFormation writes each slash of the path as ~1
    matches = [s for s in settings if s["ResourcePath"] == encoded and s["HttpMethod"] == method]
    assert len(matches) == 1, f"{method} {path} has {len(matches)} throttle settings"
    return dict(matches[0])


def test_every_route_has_its_own_throttle_from_its_callers_parameters():
    routes = api_routes()
    assert len(routes) == 5  # products, webhooks, POST /orders, GET /orders/{id}, POST /orders/{id}/events

    for path, method in routes:
        setting = method_setting(path, method)
        caller = "SignCustomiser" if path.startswith("/sign-customiser/") else "Orders"
        assert setting["ThrottlingRateLimit"] == {"Ref": f"{caller}ThrottleRateLimit"}
        assert setting["ThrottlingBurstLimit"] == {"Ref": f"{caller}ThrottleBurstLimit"}


def test_the_throttle_parameters_have_defaults():
    parameters = template()["Parameters"]
    for caller in ("SignCustomiser", "Orders"):
        for kind in ("Rate", "Burst"):
            assert parameters[f"{caller}Throttle{kind}Limit"]["Default"] > 0
