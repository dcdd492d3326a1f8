"""The merchant's platform endpoint that creates a product and returns its id (platform id mode)."""

from __future__ import annotations

import httpx

from signbridge.errors import PlatformFailed, PlatformTimeout, problem
from signbridge.models.signcustomiser import ScProduct


class PlatformProductClient:
    def __init__(self, url: str, token: str, timeout_seconds: float, client: httpx.Client | None = None):
        self.url = url
        self.token = token
        self.client = client or httpx.Client(timeout=httpx.Timeout(timeout_seconds, connect=min(3.0, timeout_seconds)))

    def create_product(self, product: ScProduct) -> str:
        headers = {
            "Accept": "application/json",
            # Lets the platform recognise a repeat of the same product and return the same id.
            "Idempotency-Key": f"signbridge-product-{product.product_id}",
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = self.client.post(self.url, json={"product": product.model_dump(mode="json")}, headers=headers)
        except httpx.TimeoutException as exc:
            raise PlatformTimeout(
                "The platform did not answer in time.", details=[problem("platform", "no answer in time")]
            ) from exc
        except httpx.HTTPError as exc:
            raise PlatformFailed(
                "The platform could not be reached.",
                details=[problem("platform", "not reachable", reason=type(exc).__name__)],
            ) from exc
        if response.status_code not in (200, 201):
            raise PlatformFailed(
                f"The platform answered {response.status_code}.",
                details=[problem("platform", "answered an error", platform_status=response.status_code)],
            )
        try:
            body = response.json()
            external_id = body.get("external_id") or body.get("id")
        except (ValueError, AttributeError):
            external_id = None
        if not isinstance(external_id, str | int) or isinstance(external_id, bool) or not str(external_id).strip():
            raise PlatformFailed(
                "The platform's answer has no external_id.",
                details=[
                    problem("external_id", "missing from the platform's answer", platform_status=response.status_code)
                ],
            )
        return str(external_id).strip()
