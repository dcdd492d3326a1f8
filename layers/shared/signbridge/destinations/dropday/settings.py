"""Dropday's settings (the environment variables the template sets from its parameters)."""

from __future__ import annotations

from pydantic import AnyHttpUrl
from pydantic_settings import BaseSettings, SettingsConfigDict

from signbridge.destinations import DestinationSettings


class DropdaySettings(DestinationSettings):
    dropday_base_url: AnyHttpUrl = AnyHttpUrl("https://dropday.io")
    dropday_api_key_param: str = ""
    dropday_api_key: str = ""
    dropday_account_id: str = ""
    dropday_source: str = "signbridge"
    dropday_test: bool = False


class DropdayHoldSettings(BaseSettings):
    """The Dropday settings its traits read (the order intake and the outbox): parsed on their own,
    so that a malformed Dropday URL or key setting holds only Dropday's deliveries, never the intake."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True, env_ignore_empty=True)

    # Hold an order's Dropday delivery while the order is not paid (goods are made for it): a
    # `paid` event releases it, a `cancelled` one withdraws it.
    dropday_hold_until_paid: bool = True
    # Every order is sent as a test (no supplier receives it): nothing to follow up.
    dropday_test: bool = False
