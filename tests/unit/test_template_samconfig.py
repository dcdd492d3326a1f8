"""samconfig.toml: Given its environments, Then each deploys its own stack with the template's
parameters, and only prod is always asked to confirm its change set."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from tests.support.template import ROOT, template

ENVIRONMENTS = ("default", "staging", "prod")


def samconfig() -> dict[str, Any]:
    return tomllib.loads((ROOT / "samconfig.toml").read_text())


def overrides(environment: str) -> dict[str, str]:
    listed = samconfig()[environment]["deploy"]["parameters"].get("parameter_overrides", [])
    return dict(item.split("=", 1) for item in listed)


def test_each_environment_deploys_a_stack_of_its_own():
    names = [samconfig()[e]["global"]["parameters"]["stack_name"] for e in ENVIRONMENTS]

    assert names == ["signbridge", "signbridge-staging", "signbridge-prod"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_sets_only_parameters_the_template_has(environment):
    deploy = samconfig()[environment]["deploy"]["parameters"]
    parameters = template()["Parameters"]

    assert deploy["capabilities"] == "CAPABILITY_IAM"
    for name, value in overrides(environment).items():
        assert name in parameters, name
        assert value in [str(v) for v in parameters[name].get("AllowedValues", [value])], (name, value)


def test_prod_asks_before_it_changes_anything_and_keeps_its_table():
    deploy = samconfig()["prod"]["deploy"]["parameters"]

    assert deploy["confirm_changeset"] is True
    assert overrides("prod")["TableDeletionProtection"] == "true"
    assert overrides("prod")["DropdayTest"] == "false"


def test_staging_sends_dropday_test_orders_with_secrets_of_its_own():
    staged = overrides("staging")

    assert staged["DropdayTest"] == "true"
    secrets = {name: value for name, value in staged.items() if name.endswith("Param")}
    assert secrets and all(value.startswith("/signbridge-staging/") for value in secrets.values())
    assert set(secrets.values()).isdisjoint(overrides("prod").values())
