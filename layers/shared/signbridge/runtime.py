"""Dependencies built once per Lambda container, on first use, from the settings.

Each API function's ``app.py`` is its composition root: it asks here only for what its own path
uses, and importing this module costs next to nothing, because what only some functions need
(the store, the secrets, the platform client) is imported inside the builder that needs it. The
forwarder and the sweeper are wired by ``signbridge.forwarding_root``. Tests call ``reset()``
between cases instead of re-importing handler modules.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from signbridge.errors import ConfigurationError
from signbridge.settings import IdMode, Settings, get_settings

if TYPE_CHECKING:
    from signbridge.clients.platform import PlatformProductClient
    from signbridge.logic.products import IdIssuer
    from signbridge.store.table import Store


def settings() -> Settings:
    return get_settings()


@cache
def store() -> Store:
    from signbridge.store.table import Store

    return Store(settings().table_name)


def _signing_secrets(param: str, plain: str | list[str], setting: str, *, required: str | None) -> list[str]:
    """The active signing secret(s) for one endpoint; ``required`` names them when there must be one."""
    from signbridge.secrets import resolve_secret, resolve_secret_list

    max_age = settings().secrets_max_age_seconds
    if isinstance(plain, list):  # several may be active while one is rotated
        secrets = resolve_secret_list(param, plain, max_age=max_age, setting=setting)
    else:
        secrets = [secret] if (secret := resolve_secret(param, plain, max_age=max_age, setting=setting)) else []
    if required and not secrets:
        raise ConfigurationError(f"No {required} is configured.", details={"setting": setting})
    return secrets


def integration_secrets() -> list[str]:
    s = settings()
    return _signing_secrets(
        s.integration_secret_param, s.integration_secret, "INTEGRATION_SECRET_PARAM", required="Integration Secret"
    )


def webhook_secrets() -> list[str]:
    s = settings()
    return _signing_secrets(
        s.webhook_secrets_param, s.webhook_secrets, "WEBHOOK_SECRETS_PARAM", required="webhook secret"
    )


def platform_order_secrets() -> list[str]:
    """The secret POST /orders must be signed with; empty when signing is not required."""
    s = settings()
    return _signing_secrets(
        s.platform_orders_secret_param, s.platform_orders_secret, "PLATFORM_ORDERS_SECRET_PARAM", required=None
    )


@cache
def _platform_client() -> PlatformProductClient:
    from signbridge.clients.platform import PlatformProductClient
    from signbridge.observability import trace_http_clients

    trace_http_clients()
    s = settings()
    if s.platform_product_url is None:
        raise ConfigurationError(
            "EXTERNAL_ID_MODE is 'platform' but PLATFORM_PRODUCT_URL is not set.",
            details={"setting": "PLATFORM_PRODUCT_URL"},
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
    """Forget everything built from the environment (tests)."""
    get_settings.cache_clear()
    store.cache_clear()
    _platform_client.cache_clear()
