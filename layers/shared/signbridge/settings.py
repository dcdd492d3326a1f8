"""Every setting signbridge reads, parsed once at cold start.

Nothing else in the code base reads ``os.environ``. A missing or malformed setting fails at
start with pydantic's message, which names the environment variable at fault.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Annotated

from pydantic import AnyHttpUrl, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from signbridge.signature import SignatureScheme


class IdMode(StrEnum):
    """How the ``external_id`` answered to a product:created callback is made."""

    DERIVED = "derived"
    PLATFORM = "platform"


class Destination(StrEnum):
    SIGN_CUSTOMISER = "signcustomiser"
    DROPDAY = "dropday"
    ONWARD = "onward"


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    # Empty variables count as unset: the template passes "" for every optional parameter left blank.
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True, env_ignore_empty=True)

    table_name: str = Field(min_length=1)
    delivery_queue_url: str = ""

    # --- Signature verification (product callback and webhooks) -------------------------
    # A secret is either given as a parameter name (SSM Parameter Store SecureString, or a
    # Secrets Manager secret when it starts with "secretsmanager:"), or, for local runs and
    # tests only, as a plain value. The parameter name wins when both are set.
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
    max_delivery_attempts: int = Field(default=8, ge=1, le=50)
    retry_base_seconds: int = Field(default=10, ge=0, le=900)
    retry_max_seconds: int = Field(default=900, ge=1, le=43_200)
    delivery_lease_seconds: int = Field(default=120, ge=1, le=900)
    destination_timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    signcustomiser_base_url: AnyHttpUrl = AnyHttpUrl("https://web.signcustomiser.com")
    signcustomiser_api_token_param: str = ""
    signcustomiser_api_token: str = ""
    signcustomiser_integration_id: int | None = None
    # How long a Sign Customiser attempt whose outcome we never heard waits for the
    # order:created webhook before it is sent again (Sign Customiser has no documented
    # duplicate check, so we look for its own confirmation first).
    signcustomiser_in_doubt_grace_seconds: int = Field(default=300, ge=0, le=86_400)

    dropday_base_url: AnyHttpUrl = AnyHttpUrl("https://dropday.io")
    dropday_api_key_param: str = ""
    dropday_api_key: str = ""
    dropday_account_id: str = ""
    dropday_source: str = "signbridge"
    dropday_test: bool = False

    onward_base_url: AnyHttpUrl = AnyHttpUrl("https://app.useonward.com")
    onward_api_key_param: str = ""
    onward_api_key: str = ""

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]  # values come from the environment
