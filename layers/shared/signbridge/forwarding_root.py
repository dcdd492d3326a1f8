"""Composition root of the forwarder and the sweeper: the store, each destination built from its
current settings and credentials, and the forwarding engine.

Credentials are read per destination when a delivery needs them, through Powertools' cache
(SECRETS_MAX_AGE_SECONDS), so a key added or rotated after deployment is used without a
redeploy; a key found missing is remembered for SECRETS_MISS_MAX_AGE_SECONDS instead of being
looked up for every message. A destination that cannot be built raises DestinationUnavailable
(its deliveries are held); a failure to read one destination's key touches no other destination.
Everything here may be called from the forwarder's worker threads: building is under one lock.
"""

from __future__ import annotations

import contextlib
import threading
import time
from functools import cache, lru_cache

from signbridge.errors import ConfigurationError
from signbridge.logic.forwarding import DestinationPort, DestinationUnavailable, Forwarder, Policy
from signbridge.observability import logger, trace_http_clients
from signbridge.secrets import resolve_secret
from signbridge.settings import Destination, Settings, get_settings
from signbridge.store import Store

_lock = threading.RLock()
_missing_until: dict[str, float] = {}  # parameter name -> monotonic time until which it is known missing
_announced: dict[str, str] = {}


def settings() -> Settings:
    return get_settings()


@cache
def store() -> Store:
    return Store(settings().table_name)


def _credential(param: str, plain: str, setting: str) -> str:
    """The credential, or "" when it is not configured; DestinationUnavailable when unreadable."""
    if param and _missing_until.get(param, 0.0) > time.monotonic():
        return ""
    try:
        value = resolve_secret(param, plain, max_age=settings().secrets_max_age_seconds, setting=setting)
    except ConfigurationError as exc:
        cause = repr(exc.__cause__)
        if "ParameterNotFound" in cause or "ResourceNotFound" in cause:
            _missing_until[param] = time.monotonic() + settings().secrets_miss_max_age_seconds
            return ""
        raise DestinationUnavailable(
            "credentials_unreadable", f"The credential in {setting} could not be read (see the forwarder's log)."
        ) from exc
    _missing_until.pop(param, None)
    return value


def _unconfigured(what: str) -> DestinationUnavailable:
    return DestinationUnavailable("destination_unconfigured", f"{what} is not configured.")


# Clients keep their connection pools across invocations; a new one is built only when a
# credential (or URL) changes, e.g. after a key rotation.
@lru_cache(maxsize=16)
def _signcustomiser(base_url: str, token: str, timeout: float, integration_id: int) -> DestinationPort:
    from signbridge.clients.signcustomiser import SignCustomiserClient
    from signbridge.logic.destinations import SignCustomiserDestination

    return SignCustomiserDestination(SignCustomiserClient(base_url, token, timeout), integration_id)


@lru_cache(maxsize=16)
def _dropday(base_url: str, key: str, account_id: str, timeout: float, source: str, test: bool) -> DestinationPort:
    from signbridge.clients.dropday import DropdayClient
    from signbridge.logic.destinations import DropdayDestination

    return DropdayDestination(DropdayClient(base_url, key, account_id, timeout), source, test)


@lru_cache(maxsize=16)
def _onward(base_url: str, key: str, timeout: float) -> DestinationPort:
    from signbridge.clients.onward import OnwardClient
    from signbridge.logic.destinations import OnwardDestination

    return OnwardDestination(OnwardClient(base_url, key, timeout))


def _build(name: str) -> DestinationPort:
    s = settings()
    timeout = s.destination_timeout_seconds
    if name == Destination.SIGN_CUSTOMISER:
        token = _credential(
            s.signcustomiser_api_token_param, s.signcustomiser_api_token, "SIGNCUSTOMISER_API_TOKEN_PARAM"
        )
        if not token:
            raise _unconfigured("Sign Customiser's API token (SIGNCUSTOMISER_API_TOKEN_PARAM)")
        if s.signcustomiser_integration_id is None:
            raise _unconfigured("SIGNCUSTOMISER_INTEGRATION_ID")
        return _signcustomiser(str(s.signcustomiser_base_url), token, timeout, s.signcustomiser_integration_id)
    if name == Destination.DROPDAY:
        key = _credential(s.dropday_api_key_param, s.dropday_api_key, "DROPDAY_API_KEY_PARAM")
        if not key:
            raise _unconfigured("Dropday's API key (DROPDAY_API_KEY_PARAM)")
        if not s.dropday_account_id:
            raise _unconfigured("DROPDAY_ACCOUNT_ID")
        return _dropday(str(s.dropday_base_url), key, s.dropday_account_id, timeout, s.dropday_source, s.dropday_test)
    if name == Destination.ONWARD:
        key = _credential(s.onward_api_key_param, s.onward_api_key, "ONWARD_API_KEY_PARAM")
        if not key:
            raise _unconfigured("Onward's API key (ONWARD_API_KEY_PARAM)")
        return _onward(str(s.onward_base_url), key, timeout)
    raise DestinationUnavailable("destination_unknown", f"{name!r} is not a destination signbridge knows.")


def destination(name: str) -> DestinationPort:
    """The destination as configured now; DestinationUnavailable when it cannot be used."""
    trace_http_clients()
    with _lock:
        try:
            port = _build(name)
        except DestinationUnavailable as exc:
            if _announced.get(name) != exc.code:  # said once per change, not per delivery
                _announced[name] = exc.code
                logger.warning(f"destination {name} is unavailable ({exc.code}): its deliveries are held")
            raise
        if _announced.get(name) != "enabled":
            _announced[name] = "enabled"
            logger.info(f"destination {name} is enabled")
        return port


def announce_destinations() -> None:
    """Cold start: say which routed destinations cannot be used yet."""
    s = settings()
    for name in dict.fromkeys([*s.route_platform_orders_to, *s.forward_webhook_orders_to]):
        with contextlib.suppress(DestinationUnavailable):
            destination(name)


@cache
def forwarder() -> Forwarder:
    s = settings()
    return Forwarder(
        store(),
        destination,
        Policy(
            schedule=s.retry_schedule,
            lease_seconds=s.delivery_lease_seconds,
            in_doubt_grace_seconds=s.signcustomiser_in_doubt_grace_seconds,
        ),
    )


def reset() -> None:
    """Forget everything built from the environment (tests)."""
    get_settings.cache_clear()
    for cached in (store, forwarder, _signcustomiser, _dropday, _onward):
        cached.cache_clear()  # type: ignore[attr-defined]
    _missing_until.clear()
    _announced.clear()


def warm() -> None:
    """Build what worker threads would otherwise create lazily (boto3 clients are not safe to
    create concurrently): the store's client and the SSM provider, at cold start."""
    from aws_lambda_powertools.utilities import parameters

    store()
    parameters.base.DEFAULT_PROVIDERS.setdefault("ssm", parameters.SSMProvider())
