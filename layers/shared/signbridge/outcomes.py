"""What a destination's answer means for the delivery, whatever the destination."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Accepted:
    reference: str | None


@dataclass(frozen=True)
class Duplicate:
    """The destination already has this order (Dropday "Order already exists", Onward 409)."""

    reference: str | None


@dataclass(frozen=True)
class Rejected:
    """The destination refused the order's content: retrying the same body cannot help."""

    status: int
    message: str
    fields: dict[str, list[str]] | list[str] | None = None


@dataclass(frozen=True)
class AuthRejected:
    """Our credentials or configuration were refused (401/403/404): the merchant must fix a setting."""

    status: int
    message: str


@dataclass(frozen=True)
class Transient:
    """Worth retrying: 429, 5xx, timeouts, connection failures."""

    message: str
    status: int | None = None
    retry_after: float | None = None
    # True when the request may have reached the destination and been acted on (no answer heard).
    maybe_delivered: bool = False


Outcome = Accepted | Duplicate | Rejected | AuthRejected | Transient
