"""Dependencies built once per Lambda container, on first use, from the settings.

Each function's ``app.py`` is its composition root: it asks here only for what its own path
uses, and importing this module costs next to nothing, because everything that only some
functions need (httpx and the destination clients, the mappers, the forwarding engine, the
platform client) is imported inside the builder that needs it. Tests call ``reset()``
between cases instead of re-importing handler modules.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING

from signbridge.errors import ConfigurationError
from signbridge.observability import logger
from signbridge.settings import Destination, IdMode, Settings, get_settings

if TYPE_CHECKING:
    from signbridge.clients.dropday import DropdayClient
    from signbridge.clients.onward import OnwardClient
    from signbridge.clients.platform import PlatformProductClient
    from signbridge.clients.signcustomiser import SignCustomiserClient
    from signbridge.logic.forwarding import DestinationPort, Forwarder
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
    """A destination credential, or "" when it is not configured (the destination is disabled).

    A parameter that does not exist disables the destination; any other failure to read it
    (throttling, permissions) is raised so the delivery is retried rather than skipped.
    """
    from signbridge.secrets import resolve_secret

    try:
        return resolve_secret(param_name, plain_value, max_age=settings().secrets_max_age_seconds, setting=setting)
    except ConfigurationError as exc:
        if "ParameterNotFound" in repr(exc.__cause__) or "ResourceNotFound" in repr(exc.__cause__):
            return ""
        raise


# Clients keep their connection pools across invocations; a new one is built only when a
# credential (or URL) changes, e.g. after a key rotation.
@lru_cache(maxsize=16)
def _signcustomiser_client(base_url: str, token: str, timeout: float) -> SignCustomiserClient:
    from signbridge.clients.signcustomiser import SignCustomiserClient

    return SignCustomiserClient(base_url, token, timeout)


@lru_cache(maxsize=16)
def _dropday_client(base_url: str, key: str, account_id: str, timeout: float) -> DropdayClient:
    from signbridge.clients.dropday import DropdayClient

    return DropdayClient(base_url, key, account_id, timeout)


@lru_cache(maxsize=16)
def _onward_client(base_url: str, key: str, timeout: float) -> OnwardClient:
    from signbridge.clients.onward import OnwardClient

    return OnwardClient(base_url, key, timeout)


_enabled: dict[str, bool] = {}


def destinations() -> dict[str, DestinationPort | None]:
    """The configured destinations; a destination without credentials is None (disabled).

    Credentials are read on every call through Powertools' cache (SECRETS_MAX_AGE_SECONDS), so a
    rotated key, or one added after deployment, is picked up without a redeploy.
    """
    from signbridge.logic.destinations import DropdayDestination, OnwardDestination, SignCustomiserDestination
    from signbridge.observability import trace_http_clients

    trace_http_clients()
    s = settings()
    timeout = s.destination_timeout_seconds
    ports: dict[str, DestinationPort | None] = {}

    token = _optional_secret(
        s.signcustomiser_api_token_param, s.signcustomiser_api_token, "SIGNCUSTOMISER_API_TOKEN_PARAM"
    )
    ports[Destination.SIGN_CUSTOMISER] = (
        SignCustomiserDestination(
            _signcustomiser_client(str(s.signcustomiser_base_url), token, timeout), s.signcustomiser_integration_id
        )
        if token and s.signcustomiser_integration_id is not None
        else None
    )

    key = _optional_secret(s.dropday_api_key_param, s.dropday_api_key, "DROPDAY_API_KEY_PARAM")
    ports[Destination.DROPDAY] = (
        DropdayDestination(
            _dropday_client(str(s.dropday_base_url), key, s.dropday_account_id, timeout),
            s.dropday_source,
            s.dropday_test,
        )
        if key and s.dropday_account_id
        else None
    )

    key = _optional_secret(s.onward_api_key_param, s.onward_api_key, "ONWARD_API_KEY_PARAM")
    ports[Destination.ONWARD] = OnwardDestination(_onward_client(str(s.onward_base_url), key, timeout)) if key else None

    for name, port in ports.items():
        if _enabled.get(name) != (port is not None):  # said once per change, not per delivery
            _enabled[name] = port is not None
            if port is None:
                logger.warning(
                    f"destination {name} is disabled: its credentials are not configured; "
                    "its deliveries are recorded as skipped"
                )
            else:
                logger.info(f"destination {name} is enabled")
    return ports


def forwarder() -> Forwarder:
    from signbridge.logic.forwarding import Forwarder, Policy

    s = settings()
    return Forwarder(
        store(),
        destinations(),
        Policy(
            max_attempts=s.max_delivery_attempts,
            retry_base_seconds=s.retry_base_seconds,
            retry_max_seconds=s.retry_max_seconds,
            lease_seconds=s.delivery_lease_seconds,
            in_doubt_grace_seconds=s.signcustomiser_in_doubt_grace_seconds,
        ),
    )


def reset() -> None:
    """Forget everything built from the environment (tests)."""
    get_settings.cache_clear()
    store.cache_clear()
    _platform_client.cache_clear()
    _signcustomiser_client.cache_clear()
    _dropday_client.cache_clear()
    _onward_client.cache_clear()
    _enabled.clear()
