"""Onward as the forwarder sees it: the mappers plus the client."""

from __future__ import annotations

from dataclasses import dataclass

from signbridge.destinations import Destination, cached_port
from signbridge.destinations.onward.client import OnwardClient
from signbridge.destinations.onward.mapper import to_onward_order
from signbridge.destinations.onward.models import OnwardOrder
from signbridge.destinations.onward.updates import OnwardEventRequest, to_onward_event
from signbridge.logic.forwarding import EventContext, OrderContext
from signbridge.mappers.errors import MappingFailed
from signbridge.models.items import DeliveryState, ScOrderLink
from signbridge.outcomes import Accepted, Outcome


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
        shipment = context.event.shipment
        if shipment is not None:
            # A status for a shipment Onward never got would be answered 404 for the whole retry
            # horizon, holding back every later event: refuse it now, with the way out.
            created = context.earlier.get(shipment.fulfilment_id)
            if created is None or created.state is not DeliveryState.DELIVERED:
                raise MappingFailed(
                    f"The shipment of fulfilment {shipment.fulfilment_id} never reached Onward "
                    f"({created.state if created else 'no delivery'}): settle it first (`signbridge order retry "
                    f"{context.order.id}`), and this status goes after it.",
                    field="shipment.fulfilment_id",
                )
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


@cached_port
def onward_port(base_url: str, key: str, timeout: float) -> OnwardDestination:
    return OnwardDestination(OnwardClient(base_url, key, timeout))
