"""Each destination as the forwarder sees it: a pure mapper plus its client."""

from __future__ import annotations

from dataclasses import dataclass

from signbridge.clients.dropday import DropdayClient
from signbridge.clients.onward import OnwardClient
from signbridge.clients.outcomes import Accepted, Outcome
from signbridge.clients.signcustomiser import SignCustomiserClient
from signbridge.logic.forwarding import ActionRequired, EventContext, OrderContext
from signbridge.mappers.dropday import to_dropday_order
from signbridge.mappers.onward import to_onward_order
from signbridge.mappers.onward_updates import OnwardEventRequest, to_onward_event
from signbridge.mappers.signcustomiser import to_signcustomiser_order
from signbridge.models.dropday import DropdayOrder
from signbridge.models.events import EventType
from signbridge.models.items import DeliveryState, ScOrderLink
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

    def prepare_event(self, context: EventContext) -> None:
        return None  # Sign Customiser documents no endpoint for order events

    def send_event(self, request: object) -> Outcome:
        raise AssertionError("nothing is sent to Sign Customiser for an order event")


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

    def prepare_event(self, context: EventContext) -> ActionRequired | None:
        """Dropday documents no update or cancel: a cancellation of an order it has is for a person."""
        if context.event.type is not EventType.CANCELLED or context.order_delivery.state is not DeliveryState.DELIVERED:
            return None
        reference = context.order_delivery.destination_ref or "unknown"
        return ActionRequired(
            code="cancel_at_dropday_by_hand",
            message=f"The order was cancelled (event {context.event.id}) after Dropday routed it (reference "
            f"{reference}). Dropday has no cancel endpoint: cancel it at Dropday by hand, then run "
            f"`signbridge cancellations done {context.order.id}`.",
            metric="DropdayCancelByHand",
        )

    def send_event(self, request: object) -> Outcome:
        raise AssertionError("nothing is sent to Dropday for an order event")


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

    def prepare_event(self, context: EventContext) -> OnwardEventRequest:
        return to_onward_event(context.order, context.products, context.event, context.before, context.after)

    def send_event(self, request: OnwardEventRequest) -> Outcome:
        if request.shipment_event is not None and request.shipment_id is not None:
            return self.client.create_shipment_event(request.shipment_id, request.shipment_event)
        if request.shipment is not None:
            return self.client.create_shipment(request.shipment)
        assert request.update is not None
        outcome = self.client.update_order(request.update)
        if request.refund_insurance and isinstance(outcome, Accepted):
            # A retry after a failed insurance refund repeats the update: the same state, harmless.
            return self.client.refund_insurance(request.update.shop_order_id)
        return outcome
