"""Sign Customiser's settings as a destination (the environment variables the template sets from
its parameters). How long an unanswered attempt waits for the order:created webhook
(SIGNCUSTOMISER_IN_DOUBT_GRACE_SECONDS) is the forwarding engine's policy, in the core settings."""

from __future__ import annotations

from pydantic import AnyHttpUrl

from signbridge.destinations import DestinationSettings


class SignCustomiserSettings(DestinationSettings):
    signcustomiser_base_url: AnyHttpUrl = AnyHttpUrl("https://web.signcustomiser.com")
    signcustomiser_api_token_param: str = ""
    signcustomiser_api_token: str = ""
    signcustomiser_integration_id: int | None = None
