"""The destinations signbridge delivers orders to: the registry.

Each member of ``Destination`` names a package ``signbridge.destinations.<value>`` holding that
provider's request models, mapper, client and settings, and exposing (see ``Plugin``):

- ``SETTINGS``: its pydantic-settings class (its own environment variables);
- ``traits()``: how it behaves as far as the core must know (``signbridge.ports.Traits``: which
  events it receives, what a cancellation means there, whether it holds unpaid orders, whether
  it confirms by webhook), read by the intake and the forwarder alike;
- ``missing(settings, credential)``: what is not configured yet, or None when it can be used;
- ``build(settings, credential)``: the ``signbridge.ports.Port`` the forwarding engine delivers
  with (an order sink, and an event sink or a confirmer where it has one), or None when it is
  not configured.

Importing this module or a provider's package loads no HTTP client, mapper or country data: a
provider's ``build`` imports them, so a forwarder container loads only the destinations it
actually delivers to. Adding a destination: its package, one line in ``Destination``, its
template parameters and its fake (docs/development.md, "Adding a destination").
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from signbridge.ports import Port, Traits


# The registry: one line per destination, its value the name of its package. (A comment, not a
# docstring: the enum's docstring would become its description in openapi.json.)
class Destination(StrEnum):
    SIGN_CUSTOMISER = "signcustomiser"
    DROPDAY = "dropday"
    ONWARD = "onward"


# (parameter name, plain value, setting) -> the credential, or "" when it is not configured.
# Raises DestinationUnavailable when it exists but cannot be read. The core's reader caches it
# (and remembers a missing one for a while): a destination never talks to SSM itself.
Credential = Callable[[str, str, str], str]


class DestinationSettings(BaseSettings):
    """What every destination's settings share. Empty variables count as unset: the template
    passes "" for every optional parameter left blank."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True, env_ignore_empty=True)

    destination_timeout_seconds: float = Field(default=10.0, gt=0, le=60)


class Plugin(Protocol):
    SETTINGS: type[DestinationSettings]

    def traits(self) -> Traits: ...

    def missing(self, settings: Any, credential: Credential) -> str | None: ...

    def build(self, settings: Any, credential: Credential) -> Port | None: ...


def plugin(name: str) -> Plugin:
    """The destination's package (imported on first use); ValueError for a name not registered."""
    return cast(Plugin, importlib.import_module(f"{__name__}.{Destination(name).value}"))


_T = TypeVar("_T")
_port_caches: list[Any] = []


def cached_port(factory: Callable[..., _T]) -> Callable[..., _T]:
    """A port's clients keep their connection pools across invocations: a new one is built only
    when its arguments (a credential, a URL) change, e.g. after a key rotation."""
    wrapped = lru_cache(maxsize=16)(factory)
    _port_caches.append(wrapped)
    return wrapped


def forget_ports() -> None:
    """Drop every cached port (tests)."""
    for cache in _port_caches:
        cache.cache_clear()
