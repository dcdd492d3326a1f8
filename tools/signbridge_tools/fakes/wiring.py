"""How each destination is pointed at its fake: the one place in the tools that names them.

``make dev`` (dev.py) takes each destination's template parameter overrides and SSM credential
from here, the demo and the tests take their fakes and settings from here, and a test checks
that every destination in the registry (``signbridge.destinations.Destination``) has an entry.
A new destination adds its fake (a ``FakeServer``) and one ``Wiring`` below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from signbridge.destinations import Destination

from .dropday import DropdayFake
from .onward import OnwardFake
from .server import FakeServer
from .signcustomiser import SignCustomiserFake


@dataclass(frozen=True)
class Wiring:
    # Template parameter overrides pointing the deployed stack at the fake, from the fake's
    # entry in .local/fakes.json (python -m signbridge_tools.fakes writes it).
    parameters: Callable[[dict[str, Any]], dict[str, str]]
    # The SSM parameter the destination's credential is read from (the template's default name)
    # and the fake's credential to put there.
    secret_parameter: str
    secret: Callable[[dict[str, Any]], str]
    # A fake for the in-process tests, and the settings pointing the functions at it.
    test_fake: Callable[[], FakeServer]
    test_environment: Callable[[Any], dict[str, str]]


WIRING: dict[Destination, Wiring] = {
    Destination.SIGN_CUSTOMISER: Wiring(
        parameters=lambda fake: {
            "SignCustomiserBaseUrl": fake["url"],
            "SignCustomiserIntegrationId": str(fake["integration_id"]),
        },
        secret_parameter="/signbridge/signcustomiser-api-token",
        secret=lambda fake: str(fake["token"]),
        test_fake=lambda: SignCustomiserFake(token="sc-token", integration_id=42, known_product_ids=["sc-1"]),
        test_environment=lambda fake: {
            "SIGNCUSTOMISER_BASE_URL": fake.url,
            "SIGNCUSTOMISER_API_TOKEN": fake.token,
            "SIGNCUSTOMISER_INTEGRATION_ID": str(fake.integration_id),
        },
    ),
    Destination.DROPDAY: Wiring(
        parameters=lambda fake: {
            "DropdayBaseUrl": fake["url"],
            "DropdayAccountId": fake["account_id"],
            "DropdaySource": "signbridge-local",
        },
        secret_parameter="/signbridge/dropday-api-key",
        secret=lambda fake: str(fake["api_key"]),
        test_fake=lambda: DropdayFake(api_key="dd-key", account_id="dd-account"),
        test_environment=lambda fake: {
            "DROPDAY_BASE_URL": fake.url,
            "DROPDAY_API_KEY": fake.api_key,
            "DROPDAY_ACCOUNT_ID": fake.account_id,
            "DROPDAY_SOURCE": "Neon Shop",
        },
    ),
    Destination.ONWARD: Wiring(
        parameters=lambda fake: {"OnwardBaseUrl": fake["url"]},
        secret_parameter="/signbridge/onward-api-key",
        secret=lambda fake: str(fake["api_key"]),
        test_fake=lambda: OnwardFake(api_key="on-key"),
        test_environment=lambda fake: {"ONWARD_BASE_URL": fake.url, "ONWARD_API_KEY": fake.api_key},
    ),
}
