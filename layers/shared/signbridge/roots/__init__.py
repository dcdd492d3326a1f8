"""One composition root per API and stream function: ``roots.<function>`` builds, once per Lambda
container and on first use, only what that function's path uses; its ``app.py`` imports nothing
else from here. The forwarder and the sweeper are wired by ``signbridge.forwarding_root``.

A root is a module of its own rather than the ``app.py`` itself so that tests, which load each
``app.py`` once, can forget what was built from an environment they change: ``roots.reset()``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from signbridge.errors import ConfigurationError, problem

if TYPE_CHECKING:
    from signbridge.ports import Traits

_ROOTS = ("products", "webhooks", "orders", "outbox")


def signing_secrets(param: str, plain: str | list[str], setting: str, *, required: str | None) -> list[str]:
    """The active signing secret(s) for one endpoint; ``required`` names them when there must be one."""
    from signbridge.secrets import resolve_secret, resolve_secret_list
    from signbridge.settings import get_settings

    max_age = get_settings().secrets_max_age_seconds
    if isinstance(plain, list):  # several may be active while one is rotated
        secrets = resolve_secret_list(param, plain, max_age=max_age, setting=setting)
    else:
        secrets = [secret] if (secret := resolve_secret(param, plain, max_age=max_age, setting=setting)) else []
    if required and not secrets:
        raise ConfigurationError(f"No {required} is configured.", details=[problem(setting, "not configured")])
    return secrets


def destination_traits() -> dict[str, Traits]:
    """Every registered destination's traits (its package's): what the intake needs to know of each."""
    from signbridge.destinations import Destination, plugin

    return {d.value: plugin(d.value).traits() for d in Destination}


def reset() -> None:
    """Forget the settings and everything each loaded root built from them (tests)."""
    from signbridge.destinations import Destination, plugin
    from signbridge.settings import get_settings

    get_settings.cache_clear()
    for destination in Destination:
        plugin(destination.value).traits.cache_clear()  # type: ignore[attr-defined]
    for name in _ROOTS:
        root = sys.modules.get(f"{__name__}.{name}")
        if root is not None:
            root.reset()
