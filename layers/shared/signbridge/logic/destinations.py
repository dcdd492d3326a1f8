"""Each destination as the forwarder sees it: a pure mapper plus its client."""

from __future__ import annotations

from dataclasses import dataclass

from signbridge.clients.dropday import DropdayClient
from signbridge.clients.onward import OnwardClient
from signbridge.clients.outcomes import Outcome
from signbridge.clients.signcustomiser import SignCustomiserClient
from signbridge.logic.forwarding import OrderContext
from signbridge.mappers.dropday import to_dropday_order
from signbridge.mappers.onward import to_onward_order
from signbridge.mappers.signcustomiser import to_signcustomiser_order
from signbridge.models.dropday import DropdayOrder
from signbridge.models.items import ScOrderLink
from signbridge.models.onward import OnwardOrder
from signbridge.models.signcustomiser import ScCreateOrderRequest
from signbridge.settings import Destination


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


@dataclass
class DropdayDestination:
    client: DropdayClient
    source: str
    test: bool
    name: str = Destination.DROPDAY
    confirms_by_webhook: bool = False

    def prepare(self, context: OrderContext) -> DropdayOrder:
        return to_dropday_order(
            context.order, context.products, context.custom_line_ids, source=self.source, test=self.test
        )

    def send(self, request: DropdayOrder) -> Outcome:
        return self.client.create_order(request)

    def confirms(self, request: DropdayOrder, link: ScOrderLink) -> bool:
        return False  # Dropday's duplicate rule makes a resend safe: nothing to confirm


@dataclass
class OnwardDestination:
    client: OnwardClient
    name: str = Destination.ONWARD
    confirms_by_webhook: bool = False

    def prepare(self, context: OrderContext) -> OnwardOrder:
        return to_onward_order(context.order, context.products)

    def send(self, request: OnwardOrder) -> Outcome:
        return self.client.create_order(request)

    def confirms(self, request: OnwardOrder, link: ScOrderLink) -> bool:
        return False  # Onward's duplicate rule (409) makes a resend safe: nothing to confirm
