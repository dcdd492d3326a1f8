"""Settings: Given the environment the template sets, Then a typed settings object or an error naming the variable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from signbridge.destinations.dropday.settings import DropdaySettings
from signbridge.destinations.signcustomiser.settings import SignCustomiserSettings
from signbridge.settings import Destination, IdMode, Settings
from signbridge.signature import SignatureScheme


def test_blank_optional_parameters_mean_unset(monkeypatch):
    # The template passes "" for every optional parameter the merchant left blank.
    for name in ("PLATFORM_PRODUCT_URL", "SIGNCUSTOMISER_INTEGRATION_ID", "FORWARD_WEBHOOK_ORDERS_TO", "DROPDAY_TEST"):
        monkeypatch.setenv(name, "")
    settings = Settings()
    assert settings.platform_product_url is None
    assert SignCustomiserSettings().signcustomiser_integration_id is None
    assert settings.forward_webhook_orders_to == []
    assert DropdaySettings().dropday_test is False


def test_defaults():
    settings = Settings()
    assert settings.signature_scheme is SignatureScheme.TIMESTAMP_DOT_BODY_HEX
    assert settings.signature_tolerance_seconds == 300
    assert settings.external_id_mode is IdMode.DERIVED and settings.external_id_prefix == "sc-"
    assert settings.route_platform_orders_to == [Destination.SIGN_CUSTOMISER, Destination.DROPDAY, Destination.ONWARD]


def test_lists_are_comma_separated(monkeypatch):
    monkeypatch.setenv("WEBHOOK_SECRETS", "new-secret, old-secret")
    monkeypatch.setenv("ROUTE_PLATFORM_ORDERS_TO", "dropday")
    settings = Settings()
    assert settings.webhook_secrets == ["new-secret", "old-secret"]
    assert settings.route_platform_orders_to == [Destination.DROPDAY]


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("TABLE_NAME", "", "table_name"),
        ("SIGNATURE_SCHEME", "md5", "signature_scheme"),
        ("ROUTE_PLATFORM_ORDERS_TO", "dropday,fedex", "route_platform_orders_to"),
        ("SIGNATURE_TOLERANCE_SECONDS", "-1", "signature_tolerance_seconds"),
        ("PLATFORM_PRODUCT_URL", "not a url", "platform_product_url"),
    ],
)
def test_a_malformed_setting_fails_naming_it(monkeypatch, name, value, field):
    monkeypatch.setenv(name, value)
    if value == "":
        monkeypatch.delenv(name)
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert field in str(raised.value)


def test_webhook_orders_cannot_be_forwarded_back_to_sign_customiser(monkeypatch):
    monkeypatch.setenv("FORWARD_WEBHOOK_ORDERS_TO", "dropday,signcustomiser")
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert "forward_webhook_orders_to" in str(raised.value)
