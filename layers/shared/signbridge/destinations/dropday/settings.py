"""Dropday's settings (the environment variables the template sets from its parameters)."""

from __future__ import annotations

from pydantic import AnyHttpUrl

from signbridge.destinations import DestinationSettings


class DropdaySettings(DestinationSettings):
    dropday_base_url: AnyHttpUrl = AnyHttpUrl("https://dropday.io")
    dropday_api_key_param: str = ""
    dropday_api_key: str = ""
    dropday_account_id: str = ""
    dropday_source: str = "signbridge"
    dropday_test: bool = False
