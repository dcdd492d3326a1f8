"""Composition root of the forwarder and the sweeper: the store, each destination built by its
package (``signbridge.destinations``) from its current settings and credentials, its traits, the
forwarding engine and the delivery queue (the SQS adapter). A destination's package, and with it
its client and mapper, is loaded the first time one of its deliveries is attempted. This is the
one place (with ``signbridge.roots``) that imports both the core and the destinations.

Credentials are read per destination when a delivery needs them, through Powertools' cache
(SECRETS_MAX_AGE_SECONDS), so a key added or rotated after deployment is used without a
redeploy; a key found missing is remembered for SECRETS_MISS_MAX_AGE_SECONDS instead of being
looked up for every message. A destination that cannot be built raises DestinationUnavailable
(its deliveries are held); a failure to read one destination's key touches no other destination.
Everything here may be called from the forwarder's worker threads: building is under one lock.
"""

from __future__ import annotations

import math
import threading
import time
from functools import cache
from typing import Any

import boto3
from pydantic import ValidationError

from signbridge import clock
from signbridge.delivery_queue import DeliveryQueue
from signbridge.destinations import Destination, DestinationSettings, forget_ports, plugin
from signbridge.errors import ConfigurationError
from signbridge.logic.forwarding import Forwarder, Policy, Verdict
from signbridge.logic.outbox import DeliveryMessage
from signbridge.observability import logger
from signbridge.ports import DestinationUnavailable, Port, Traits
from signbridge.secrets import resolve_secret
from signbridge.settings import Settings, get_settings
from signbridge.store import Store
from signbridge.tracing import trace_http_clients

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


@cache
def destination_settings(name: str) -> DestinationSettings:
    """The destination's own settings, parsed on first use. A malformed one makes only this
    destination unavailable (its deliveries are held and alarmed), naming the variable."""
    try:
        return plugin(name).SETTINGS()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])).upper()}: {error['msg']}" for error in exc.errors(include_url=False)
        )
        raise DestinationUnavailable(
            "destination_misconfigured", f"{name}'s settings are malformed ({problems})."
        ) from None


def traits(name: str) -> Traits:
    """The destination's traits (its package's); an unknown name gets a destination that is held."""
    try:
        return plugin(name).traits()
    except ValueError:
        from signbridge.ports import Cancellation

        return Traits(title=name, cancellation=Cancellation.RECORDED)


def all_traits() -> dict[str, Traits]:
    return {d.value: traits(d.value) for d in Destination}


def _build(name: str) -> Port:
    try:
        provider = plugin(name)
    except ValueError:
        raise DestinationUnavailable(
            "destination_unknown", f"{name!r} is not a destination signbridge knows."
        ) from None
    s = destination_settings(name)
    port = provider.build(s, _credential)
    if port is None:
        raise _unconfigured(provider.missing(s, _credential) or name)
    return port


def _say(name: str, unavailable: DestinationUnavailable | None) -> None:
    """Said once per change, not per delivery."""
    if unavailable is not None:
        if _announced.get(name) != unavailable.code:
            _announced[name] = unavailable.code
            logger.warning(f"destination {name} is unavailable ({unavailable.code}): its deliveries are held")
    elif _announced.get(name) != "enabled":
        _announced[name] = "enabled"
        logger.info(f"destination {name} is enabled")


def destination(name: str) -> Port:
    """The destination as configured now; DestinationUnavailable when it cannot be used."""
    with _lock:
        trace_http_clients()  # under the lock: the X-Ray SDK's patching is not made for threads
        try:
            port = _build(name)
        except DestinationUnavailable as exc:
            _say(name, exc)
            raise
        _say(name, None)
        return port


def announce_destinations() -> None:
    """Cold start: say which routed destinations cannot be used yet. Only their configuration and
    credentials are checked: no client, mapper or country data is loaded for it."""
    s = settings()
    for name in dict.fromkeys([*s.route_platform_orders_to, *s.forward_webhook_orders_to]):
        with _lock:
            try:
                what = plugin(name).missing(destination_settings(name), _credential)
            except DestinationUnavailable as exc:
                _say(name, exc)
                continue
            _say(name, None if what is None else _unconfigured(what))


@cache
def forwarder() -> Forwarder:
    s = settings()
    return Forwarder(
        store(),
        destination,
        traits,
        Policy(
            schedule=s.retry_schedule,
            lease_seconds=s.delivery_lease_seconds,
            in_doubt_grace_seconds=s.signcustomiser_in_doubt_grace_seconds,
        ),
    )


def sqs() -> Any:
    return _sqs()


@cache
def _sqs() -> Any:
    return boto3.client("sqs")


@cache
def queue() -> DeliveryQueue:
    s = settings()
    return DeliveryQueue(sqs(), s.delivery_queue_url, s.delivery_dlq_url, clock=lambda: clock.now())


def deliver_within(seconds_left: float) -> Any:
    """The engine's deliver, with a lease that covers the rest of the invocation: no other worker
    may start a delivery while this one could still be sending it."""
    lease = max(1, math.ceil(seconds_left)) + settings().delivery_lease_margin_seconds

    def deliver(message: DeliveryMessage) -> Verdict:
        return forwarder().deliver(message, lease_seconds=lease)

    return deliver


def replace(message: DeliveryMessage, delay: float) -> DeliveryMessage | None:
    """A fresh message of a new generation for ``message``'s delivery, due in ``delay`` seconds (the
    lifecycle's replace_message), or None when ``message`` is not the live one any more."""
    due = int(clock.now() + delay)
    gen = store().replace_message(message.order_id, message.destination, message.gen, due, message.event_seq)
    return None if gen is None else DeliveryMessage(message.order_id, message.destination, gen, message.event_seq)


def reset() -> None:
    """Forget everything built from the environment (tests)."""
    get_settings.cache_clear()
    for cached in (store, forwarder, destination_settings, _sqs, queue):
        cached.cache_clear()  # type: ignore[attr-defined]
    forget_ports()
    for destination_ in Destination:
        plugin(destination_.value).traits.cache_clear()  # type: ignore[attr-defined]
    _missing_until.clear()
    _announced.clear()


def warm() -> None:
    """Build what worker threads would otherwise create lazily (boto3 clients are not safe to
    create concurrently): the store's client and the SSM provider, at cold start."""
    from aws_lambda_powertools.utilities import parameters

    store()
    sqs()
    parameters.base.DEFAULT_PROVIDERS.setdefault("ssm", parameters.SSMProvider())
