"""Sign Customiser as a destination: POST /api/v2/orders (Bearer token), confirmed by its own
order:created webhook (it documents no duplicate rule).

Files: ``settings`` (its environment variables), ``models`` (the request and its answer),
``mapper`` (canonical order -> request; a webhook order -> the stored link), ``client`` (HTTP and
what each answer means), ``port`` (what the forwarding engine calls). Only ``build`` imports the
heavy parts. Sign Customiser's inbound payloads stay in ``signbridge.models.signcustomiser``.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from signbridge.destinations import Credential
from signbridge.destinations.signcustomiser.settings import SignCustomiserSettings

if TYPE_CHECKING:
    from signbridge.ports import Port, Traits

SETTINGS = SignCustomiserSettings


@cache
def traits() -> Traits:
    from signbridge.ports import Cancellation, Traits

    return Traits(
        title="Sign Customiser",
        cancellation=Cancellation.RECORDED,
        not_forwarded="documents no endpoint for order events: recorded only",
        confirms_by_webhook=True,
        needs_designs=True,
    )


def _token(settings: SignCustomiserSettings, credential: Credential) -> str:
    return credential(
        settings.signcustomiser_api_token_param, settings.signcustomiser_api_token, "SIGNCUSTOMISER_API_TOKEN_PARAM"
    )


def missing(settings: SignCustomiserSettings, credential: Credential) -> str | None:
    if not _token(settings, credential):
        return "Sign Customiser's API token (SIGNCUSTOMISER_API_TOKEN_PARAM)"
    if settings.signcustomiser_integration_id is None:
        return "SIGNCUSTOMISER_INTEGRATION_ID"
    return None


def build(settings: SignCustomiserSettings, credential: Credential) -> Port | None:
    token = _token(settings, credential)
    if not token or settings.signcustomiser_integration_id is None:
        return None
    from signbridge.destinations.signcustomiser.port import signcustomiser_port

    return signcustomiser_port(
        str(settings.signcustomiser_base_url),
        token,
        settings.destination_timeout_seconds,
        settings.signcustomiser_integration_id,
    )
