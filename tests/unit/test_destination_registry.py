"""Destinations as plug-ins: Given the registry, Then a forwarder loads a destination's client and
mapper only when it delivers to that destination, and says at cold start which
destinations cannot be used from their configuration alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

# What only a destination's build loads. (pycountry is not among them: the canonical order
# validates its country codes with it, so every function that reads an order loads it.)
HEAVY = ["httpx", "simplejson"]


def loaded_after(code: str, **env: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter (the test's environment plus ``env``); it sets ``result``."""
    script = textwrap.dedent(code) + "\nimport sys, json\nprint(json.dumps({'modules': sorted(sys.modules), **result}))"
    done = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    *log, last = done.stdout.splitlines()
    return {**json.loads(last), "log": "\n".join(log)}


def heavy(modules: object) -> list[str]:
    assert isinstance(modules, list)
    prefixes = (
        "signbridge.destinations.dropday.",
        "signbridge.destinations.onward.",
        "signbridge.destinations.signcustomiser.",
    )
    return sorted(m for m in modules if m in HEAVY or (m.startswith(prefixes) and not m.endswith(".settings")))


def test_the_registry_and_every_destinations_settings_load_nothing_heavy():
    out = loaded_after(
        """
        from signbridge.destinations import Destination, plugin
        from signbridge.settings import Settings
        result = {"settings": [type(plugin(name).SETTINGS()).__name__ for name in Destination]}
        """
    )
    assert out["settings"] == ["SignCustomiserSettings", "DropdaySettings", "OnwardSettings"]
    assert heavy(out["modules"]) == []


def test_the_cold_start_announcement_reads_configuration_only():
    out = loaded_after(
        """
        from signbridge import forwarding_root
        forwarding_root.announce_destinations()
        result = {}
        """,
        DROPDAY_API_KEY="dd-key",
        DROPDAY_ACCOUNT_ID="dd-account",
        ONWARD_API_KEY="on-key",
        ROUTE_PLATFORM_ORDERS_TO="signcustomiser,dropday,onward",
    )
    assert heavy(out["modules"]) == []
    log = str(out["log"])
    assert "destination signcustomiser is unavailable (destination_unconfigured): its deliveries are held" in log
    assert "destination dropday is enabled" in log and "destination onward is enabled" in log


def test_delivering_to_one_destination_loads_that_destination_only():
    out = loaded_after(
        """
        from signbridge import forwarding_root
        port = forwarding_root.destination("dropday")
        result = {"sinks": [type(port.orders).__name__, port.events, port.confirmer]}
        """,
        DROPDAY_API_KEY="dd-key",
        DROPDAY_ACCOUNT_ID="dd-account",
        ONWARD_API_KEY="on-key",
        SIGNCUSTOMISER_API_TOKEN="sc-token",
        SIGNCUSTOMISER_INTEGRATION_ID="42",
    )
    assert out["sinks"] == ["DropdayOrders", None, None]  # an order sink; no event sink, no confirmer
    loaded = heavy(out["modules"])
    assert "signbridge.destinations.dropday.client" in loaded and "httpx" in loaded
    assert [
        m
        for m in loaded
        if m.startswith(("signbridge.destinations.onward.", "signbridge.destinations.signcustomiser."))
    ] == []
