"""Onward's settings (the environment variables the template sets from its parameters)."""

from __future__ import annotations

from pydantic import AnyHttpUrl

from signbridge.destinations import DestinationSettings


class OnwardSettings(DestinationSettings):
    onward_base_url: AnyHttpUrl = AnyHttpUrl("https://app.useonward.com")
    onward_api_key_param: str = ""
    onward_api_key: str = ""
