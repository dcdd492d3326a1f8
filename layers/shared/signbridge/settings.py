"""Every core setting signbridge reads, parsed once at cold start. Each destination's own
settings (its URL, credentials, options) are in its package, ``signbridge.destinations.<name>.settings``.

Nothing else in the code base reads ``os.environ``. A missing or malformed setting fails at
start with pydantic's message, which names the environment variable at fault.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from signbridge.destinations import Destination
from signbridge.retry import RetrySchedule
from signbridge.signature import SignatureScheme

__all__ = ["Destination", "IdMode", "RetryOverride", "RetrySchedule", "Settings", "get_settings"]


class IdMode(StrEnum):
    """How the ``external_id`` answered to a product:created callback is made."""

    DERIVED = "derived"
    PLATFORM = "platform"


class RetryOverride(BaseModel):
    """One destination's own retry schedule; what is left out follows the global settings."""

    model_config = ConfigDict(extra="forbid")

    base_seconds: int | None = Field(default=None, ge=0, le=3_600)
    max_seconds: int | None = Field(default=None, ge=1, le=43_200)
    horizon_seconds: int | None = Field(default=None, ge=60, le=1_036_800)


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    # Empty variables count as unset: the template passes "" for every optional parameter left blank.
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True, env_ignore_empty=True)

    table_name: str = Field(min_length=1)
    delivery_queue_url: str = ""
    delivery_dlq_url: str = ""  # where the forwarder puts a message it cannot read

    # --- Signature verification (product callback and webhooks) -------------------------
    # A secret is either given as the name of an SSM Parameter Store SecureString or, for local
    # runs and tests only, as a plain value. The parameter name wins when both are set.
    integration_secret_param: str = ""
    integration_secret: str = ""
    # One or more subscription secrets: a comma-separated list (several may be active at
    # once while a secret is rotated). The parameter may hold a comma-separated list too.
    webhook_secrets_param: str = ""
    webhook_secrets: Annotated[list[str], NoDecode] = Field(default_factory=list)
    signature_scheme: SignatureScheme = SignatureScheme.DEFAULT
    signature_tolerance_seconds: int = Field(default=300, ge=1, le=86_400)
    max_body_bytes: int = Field(default=262_144, ge=1_024, le=10_000_000)
    secrets_max_age_seconds: int = Field(default=300, ge=0)
    # A destination credential found missing is looked up again after this long, not per message.
    secrets_miss_max_age_seconds: int = Field(default=60, ge=0, le=3_600)

    # --- Product ids -----------------------------------------------------------------------
    external_id_mode: IdMode = IdMode.DERIVED
    external_id_prefix: str = Field(default="sc-", max_length=32, pattern=r"^[A-Za-z0-9_.:-]*$")
    platform_product_url: AnyHttpUrl | None = None
    platform_token_param: str = ""
    platform_token: str = ""
    platform_timeout_seconds: float = Field(default=8.0, gt=0, le=20)

    # --- Platform orders ---------------------------------------------------------------------
    # Optional: when a secret is set, POST /orders must also carry a valid signature (same
    # headers and scheme as Sign Customiser's deliveries), on top of the API key.
    platform_orders_secret_param: str = ""
    platform_orders_secret: str = ""

    # --- Webhook delivery records ------------------------------------------------------------
    webhook_dedup_ttl_days: int = Field(default=30, ge=1, le=365)

    # --- Order forwarding ------------------------------------------------------------------
    route_platform_orders_to: Annotated[list[Destination], NoDecode] = Field(
        default_factory=lambda: [Destination.SIGN_CUSTOMISER, Destination.DROPDAY, Destination.ONWARD]
    )
    forward_webhook_orders_to: Annotated[list[Destination], NoDecode] = Field(default_factory=list)
    # Retries (see docs/settings.md, "Retries and the sweeper"). Exponential backoff with equal jitter from
    # retry_base_seconds, each wait at most retry_max_seconds (SQS visibility allows 12 h), for
    # retry_horizon_seconds from the first failure of a run; then the delivery fails and alarms.
    retry_base_seconds: int = Field(default=30, ge=0, le=3_600)
    retry_max_seconds: int = Field(default=3_600, ge=1, le=43_200)
    retry_horizon_seconds: int = Field(default=345_600, ge=60, le=1_036_800)  # 96 h; at most 12 days
    # Per-destination overrides, JSON: {"dropday": {"horizon_seconds": 604800}}.
    retry_schedules: dict[Destination, RetryOverride] = Field(default_factory=dict)
    # How often a held delivery (destination unconfigured or refusing our credentials) is retried.
    held_retry_seconds: int = Field(default=300, ge=1, le=43_200)
    # Tests and drills only: multiplies every wait of the schedule (0.001 turns 96 h into ~6 min).
    retry_time_scale: float = Field(default=1.0, gt=0, le=1)
    # The sweeper re-enqueues a delivery this long past the time it was due (a lost message).
    sweep_grace_seconds: int = Field(default=900, ge=1, le=86_400)
    # An attempt's lease lasts the invocation's remaining time plus this margin (so no second
    # worker starts the delivery while the first could still be sending it).
    delivery_lease_margin_seconds: int = Field(default=5, ge=0, le=60)
    delivery_lease_seconds: int = Field(default=120, ge=1, le=900)  # when no invocation deadline is known
    # How long a Sign Customiser attempt whose outcome we never heard waits for the
    # order:created webhook before it is sent again (Sign Customiser has no documented
    # duplicate check, so we look for its own confirmation first).
    signcustomiser_in_doubt_grace_seconds: int = Field(default=900, ge=0, le=86_400)

    @field_validator("webhook_secrets", "route_platform_orders_to", "forward_webhook_orders_to", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split(value)

    @field_validator("forward_webhook_orders_to")
    @classmethod
    def _not_back_to_sign_customiser(cls, value: list[Destination]) -> list[Destination]:
        if Destination.SIGN_CUSTOMISER in value:
            raise ValueError("orders from Sign Customiser's webhook cannot be forwarded back to Sign Customiser")
        return value

    def retry_schedule(self, destination: str) -> RetrySchedule:
        override = self.retry_schedules.get(Destination(destination)) or RetryOverride()
        scale = self.retry_time_scale
        base = override.base_seconds if override.base_seconds is not None else self.retry_base_seconds
        cap = override.max_seconds if override.max_seconds is not None else self.retry_max_seconds
        horizon = override.horizon_seconds if override.horizon_seconds is not None else self.retry_horizon_seconds
        return RetrySchedule(
            base=base * scale, cap=cap * scale, horizon=horizon * scale, held=self.held_retry_seconds * scale
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]  # values come from the environment
