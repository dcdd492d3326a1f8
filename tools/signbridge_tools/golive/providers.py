"""The few provider calls the going-live commands make: Sign Customiser's webhook subscriptions,
and for each destination a request that shows whether its credential is accepted and changes
nothing there.

- Sign Customiser: ``GET /api/v2/webhooks`` (the subscriptions, each with its secret).
- Dropday: ``GET /api/v1/orders?per_page=1``; 401 is a refused key or account id.
- Onward documents no read. ``PATCH /api/v1/orders/{id}`` with an empty body, for an id no order
  has, is answered 404 (no such order) or 422 (the empty body) once the key is accepted, and 401
  when it is not: either way nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

TIMEOUT = httpx.Timeout(10.0)
SUBSCRIPTIONS_PATH = "/api/v2/webhooks"
ORDER_CREATED = "order:created"
# An id no platform order has: signbridge's order ids are the platform's.
ONWARD_PROBE_ORDER = "signbridge-doctor-probe-not-an-order"


class ProviderError(Exception):
    """The provider could not be asked, or answered something other than what was asked for."""


class CredentialRefused(ProviderError):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


@dataclass(frozen=True)
class Subscription:
    id: Any
    topic: str
    url: str
    secret: str

    @classmethod
    def of(cls, item: dict[str, Any]) -> Subscription:
        return cls(item.get("id"), str(item.get("topic", "")), str(item.get("url", "")), str(item.get("secret") or ""))


def _send(method: str, url: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
    try:
        return httpx.request(method, url, headers=headers, timeout=TIMEOUT, **kw)
    except httpx.HTTPError as exc:
        raise ProviderError(f"{type(exc).__name__}: {exc}") from None


def _unexpected(answer: httpx.Response) -> ProviderError:
    return ProviderError(f"HTTP {answer.status_code} from {answer.request.method} {answer.request.url.path}")


class SignCustomiserApi:
    def __init__(self, base_url: str, token: str) -> None:
        self.base = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def subscriptions(self) -> list[Subscription]:
        answer = _send("GET", self.base + SUBSCRIPTIONS_PATH, self.headers)
        if answer.status_code in (401, 403):
            raise CredentialRefused(answer.status_code)
        if answer.status_code != 200:
            raise _unexpected(answer)
        body = answer.json()
        # The wrapping is not published: a list, or a list under "webhooks" or "data".
        items = body if isinstance(body, list) else body.get("webhooks", body.get("data", []))
        return [Subscription.of(item) for item in items if isinstance(item, dict)]

    def subscribe(self, topic: str, url: str) -> Subscription:
        answer = _send("POST", self.base + SUBSCRIPTIONS_PATH, self.headers, json={"topic": topic, "url": url})
        if answer.status_code in (401, 403):
            raise CredentialRefused(answer.status_code)
        if answer.status_code not in (200, 201):
            raise _unexpected(answer)
        body = answer.json()
        created = Subscription.of(body.get("webhook", body.get("data", body)))
        if not created.secret:
            raise ProviderError("the new subscription came back without its secret")
        return created


def probe_dropday(base_url: str, api_key: str, account_id: str) -> None:
    headers = {"api-key": api_key, "account-id": account_id, "Accept": "application/json"}
    answer = _send("GET", base_url.rstrip("/") + "/api/v1/orders", headers, params={"per_page": 1})
    if answer.status_code in (401, 403):
        raise CredentialRefused(answer.status_code)
    if answer.status_code != 200:
        raise _unexpected(answer)


def probe_onward(base_url: str, api_key: str) -> None:
    headers = {"X-API-Key": api_key, "Accept": "application/json"}
    url = f"{base_url.rstrip('/')}/api/v1/orders/{ONWARD_PROBE_ORDER}"
    answer = _send("PATCH", url, headers, json={})
    if answer.status_code in (401, 403):
        raise CredentialRefused(answer.status_code)
    if answer.status_code not in (404, 422):
        raise _unexpected(answer)
