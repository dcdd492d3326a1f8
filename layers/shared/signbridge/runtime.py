"""Dependencies built once per Lambda container, on first use, from the settings.

Handlers ask here for what they need; tests call ``reset()`` between cases instead of
re-importing handler modules.
"""

from __future__ import annotations

from functools import cache

from signbridge.clients.platform import PlatformProductClient
from signbridge.errors import ConfigurationError
from signbridge.logic.products import IdIssuer, derived_external_id
from signbridge.secrets import resolve_secret, resolve_secret_list
from signbridge.settings import IdMode, Settings, get_settings
from signbridge.store.table import Store


def settings() -> Settings:
    return get_settings()


@cache
def store() -> Store:
    return Store(settings().table_name)


def _signing_secrets(param: str, plain: str | list[str], setting: str, *, required: str | None) -> list[str]:
    """The active signing secret(s) for one endpoint; ``required`` names them when there must be one."""
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
    s = settings()
    if s.platform_product_url is None:
        raise ConfigurationError(
            "EXTERNAL_ID_MODE is 'platform' but PLATFORM_PRODUCT_URL is not set.",
            details={"setting": "PLATFORM_PRODUCT_URL"},
        )
    return PlatformProductClient(str(s.platform_product_url), "", s.platform_timeout_seconds)


def id_issuer() -> IdIssuer:
    s = settings()
    if s.external_id_mode is IdMode.DERIVED:
        return derived_external_id(s.external_id_prefix)
    client = _platform_client()
    # The token is optional: a platform URL may need none (the parameter then does not exist).
    client.token = _optional_secret(s.platform_token_param, s.platform_token, "PLATFORM_TOKEN_PARAM")
    return client.create_product


def _optional_secret(param_name: str, plain_value: str, setting: str) -> str:
    """A destination credential, or "" when it is not configured (the destination is disabled).

    A parameter that does not exist disables the destination; any other failure to read it
    (throttling, permissions) is raised so the delivery is retried rather than skipped.
    """
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
