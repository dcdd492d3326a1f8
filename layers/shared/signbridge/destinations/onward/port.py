"""Onward as the forwarder sees it: an order sink and an event sink.

Resend safety, step by step: Onward answers a repeated order or shipment with 409, and an order
PATCH carries the order's whole state, so those are safe to send again; it documents no
duplicate rule for shipment events or for ``refund_insurance``, so those are not.
"""

from __future__ import annotations

from dataclasses import dataclass

from signbridge.destinations import cached_port
from signbridge.destinations.onward.client import OnwardClient
from signbridge.destinations.onward.mapper import to_onward_order
from signbridge.destinations.onward.updates import OnwardEventRequest, to_onward_event
from signbridge.lifecycle import DeliveryState
from signbridge.mappers.errors import MappingFailed
from signbridge.ports import EventContext, OrderContext, Plan, Port, Step, one_step


@dataclass(frozen=True)
class OnwardOrders:
    client: OnwardClient

    def plan_order(self, context: OrderContext) -> Plan:
        request = to_onward_order(context.order, context.products)
        return one_step("create_order", lambda: self.client.create_order(request), resend_safe=True)


@dataclass(frozen=True)
class OnwardEvents:
    client: OnwardClient

    def plan_event(self, context: EventContext) -> Plan:
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
        return self.steps(
            to_onward_event(context.order, context.products, context.event, context.before, context.after)
        )

    def steps(self, request: OnwardEventRequest) -> Plan:
        client = self.client
        if request.shipment_event is not None and request.shipment_id is not None:
            shipment_id, status = request.shipment_id, request.shipment_event
            return one_step(
                "shipment_event", lambda: client.create_shipment_event(shipment_id, status), resend_safe=False
            )
        if request.shipment is not None:
            shipment = request.shipment
            return one_step("create_shipment", lambda: client.create_shipment(shipment), resend_safe=True)
        update = request.update
        assert update is not None
        steps = [Step("update_order", lambda: client.update_order(update), resend_safe=True)]
        if request.refund_insurance:
            steps.append(
                Step("refund_insurance", lambda: client.refund_insurance(update.shop_order_id), resend_safe=False)
            )
        return Plan(tuple(steps))


@cached_port
def onward_port(base_url: str, key: str, timeout: float) -> Port:
    client = OnwardClient(base_url, key, timeout)
    return Port(orders=OnwardOrders(client), events=OnwardEvents(client))
