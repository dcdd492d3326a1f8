"""The products function's dependencies: its settings, the Integration Secret, the product
aggregate of the table, and the external_id issuer (the platform's client only in platform mode)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from signbridge.errors import ConfigurationError, problem
from signbridge.roots import signing_secrets
from signbridge.settings import IdMode, Settings, get_settings
from signbridge.store.products import ProductStore

if TYPE_CHECKING:
    from signbridge.clients.platform import PlatformProductClient
    from signbridge.logic.products import IdIssuer


def settings() -> Settings:
    return get_settings()


@cache
def store() -> ProductStore:
    return ProductStore(settings().table_name)


def integration_secrets() -> list[str]:
    s = settings()
    return signing_secrets(
        s.integration_secret_param, s.integration_secret, "INTEGRATION_SECRET_PARAM", required="Integration Secret"
    )


@cache
def _platform_client() -> PlatformProductClient:
    # httpx and its tracing load only in platform mode.
    from signbridge.clients.platform import PlatformProductClient
    from signbridge.tracing import trace_http_clients

    trace_http_clients()
    s = settings()
    if s.platform_product_url is None:
        raise ConfigurationError(
            "EXTERNAL_ID_MODE is 'platform' but PLATFORM_PRODUCT_URL is not set.",
            details=[problem("PLATFORM_PRODUCT_URL", "not set")],
        )
    return PlatformProductClient(str(s.platform_product_url), "", s.platform_timeout_seconds)


def id_issuer() -> IdIssuer:
    from signbridge.logic.products import derived_external_id

    s = settings()
    if s.external_id_mode is IdMode.DERIVED:
        return derived_external_id(s.external_id_prefix)
    client = _platform_client()
    # The token is optional: a platform URL may need none (the parameter then does not exist).
    client.token = _optional_secret(s.platform_token_param, s.platform_token, "PLATFORM_TOKEN_PARAM")
    return client.create_product


def _optional_secret(param_name: str, plain_value: str, setting: str) -> str:
    """The platform's token, or "" when none is configured (a parameter that does not exist);
    any other failure to read it (throttling, permissions) is raised."""
    from signbridge.secrets import resolve_secret

    try:
        return resolve_secret(param_name, plain_value, max_age=settings().secrets_max_age_seconds, setting=setting)
    except ConfigurationError as exc:
        if "ParameterNotFound" in repr(exc.__cause__) or "ResourceNotFound" in repr(exc.__cause__):
            return ""
        raise


def reset() -> None:
    store.cache_clear()
    _platform_client.cache_clear()
