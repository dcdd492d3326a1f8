"""The registry drives the local wiring: Given every destination signbridge knows, Then each has a
fake, template parameters that exist in template.yaml, and settings its package reads."""

from __future__ import annotations

import pytest

from signbridge.destinations import Destination, plugin
from signbridge_tools.fakes.wiring import WIRING
from tests.support.template import template


def test_every_destination_has_its_wiring_and_nothing_else():
    assert set(WIRING) == set(Destination)


@pytest.mark.parametrize("name", list(Destination))
def test_a_destination_is_pointed_at_its_fake_through_its_own_settings(name, monkeypatch):
    wiring = WIRING[name]
    fake = wiring.test_fake().start()
    try:
        for key, value in wiring.test_environment(fake).items():
            monkeypatch.setenv(key, value)
        settings = plugin(name).SETTINGS()
        read = {str(v) for v in settings.model_dump().values()}
        assert fake.url in read or fake.url + "/" in read, "the destination's base URL setting is the fake's"
        assert plugin(name).missing(settings, lambda param, plain, setting: plain) is None
    finally:
        fake.stop()


@pytest.mark.parametrize("name", list(Destination))
def test_the_local_stack_overrides_only_parameters_the_template_declares(name):
    fake_state = {"url": "http://127.0.0.1:1", "integration_id": 1, "account_id": "a", "token": "t", "api_key": "k"}
    declared = template()["Parameters"]
    assert set(WIRING[name].parameters(fake_state)) <= set(declared)
