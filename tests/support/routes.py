"""Destinations with their traits, as a composition root hands them to the intake."""

from __future__ import annotations

from signbridge.ports import Traits
from signbridge.roots import destination_traits


def routes(*names: str) -> dict[str, Traits]:
    known = destination_traits()
    return {name: known[name] for name in names}
