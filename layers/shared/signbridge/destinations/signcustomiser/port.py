"""Sign Customiser as the forwarder sees it: the mapper plus the client."""

from __future__ import annotations

from dataclasses import dataclass

from signbridge.destinations import Destination, cached_port
from signbridge.destinations.signcustomiser.client import SignCustomiserClient
from signbridge.destinations.signcustomiser.mapper import to_signcustomiser_order
from signbridge.destinations.signcustomiser.models import ScCreateOrderRequest
from signbridge.logic.forwarding import EventContext, OrderContext
from signbridge.models.items import ScOrderLink
from signbridge.outcomes import Outcome


@dataclass
class SignCustomiserDestination:
    client: SignCustomiserClient
    integration_id: int
    name: str = Destination.SIGN_CUSTOMISER
    confirms_by_webhook: bool = True

    def prepare(self, context: OrderContext) -> ScCreateOrderRequest | None:
        return to_signcustomiser_order(context.order, context.custom_line_ids, self.integration_id)

    def send(self, request: ScCreateOrderRequest) -> Outcome:
        return self.client.create_order(request)

    def confirms(self, request: ScCreateOrderRequest, link: ScOrderLink) -> bool:
        """The webhook's order is the one we sent: same external_id and number, currency and the
        same designs. An external_id alone could be shared by an order from another channel."""
        if link.external_id != request.external_id:
            return False
        if request.external_order_number is not None and link.external_order_number != request.external_order_number:
            return False
        if link.currency and request.currency and link.currency.upper() != request.currency.upper():
            return False
        return bool(link.product_external_ids) and set(link.product_external_ids) == {
            p.external_id for p in request.products
        }

    def prepare_event(self, context: EventContext) -> None:
        return None  # Sign Customiser documents no endpoint for order events

    def send_event(self, request: object) -> Outcome:
        raise AssertionError("nothing is sent to Sign Customiser for an order event")


@cached_port
def signcustomiser_port(base_url: str, token: str, timeout: float, integration_id: int) -> SignCustomiserDestination:
    return SignCustomiserDestination(SignCustomiserClient(base_url, token, timeout), integration_id)
