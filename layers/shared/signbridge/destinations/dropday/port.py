"""Dropday as the forwarder sees it: the mapper plus the client."""

from __future__ import annotations

from dataclasses import dataclass

from signbridge.destinations import Destination, cached_port
from signbridge.destinations.dropday.client import DropdayClient
from signbridge.destinations.dropday.mapper import to_dropday_order
from signbridge.destinations.dropday.models import DropdayOrder
from signbridge.logic.forwarding import ActionRequired, EventContext, OrderContext
from signbridge.models.events import EventType
from signbridge.models.items import DeliveryState, ScOrderLink
from signbridge.outcomes import Outcome


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


@cached_port
def dropday_port(
    base_url: str, key: str, account_id: str, timeout: float, source: str, test: bool
) -> DropdayDestination:
    return DropdayDestination(DropdayClient(base_url, key, account_id, timeout), source, test)
