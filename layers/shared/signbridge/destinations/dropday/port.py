"""Dropday as the forwarder and the sweeper see it: an order sink (it receives no order event) and
the reader of an order's supplier status after it accepted it."""

from __future__ import annotations

from dataclasses import dataclass

from signbridge.destinations import cached_port
from signbridge.destinations.dropday.client import DropdayClient
from signbridge.destinations.dropday.mapper import to_dropday_order
from signbridge.ports import OrderContext, Plan, Port, SupplierReading, one_step


@dataclass(frozen=True)
class DropdayOrders:
    client: DropdayClient
    source: str
    test: bool

    def plan_order(self, context: OrderContext) -> Plan:
        request = to_dropday_order(
            context.order, context.products, context.custom_line_ids, source=self.source, test=self.test
        )
        # Dropday answers "Order already exists" for an external_id it has: a resend is harmless.
        return one_step("create_order", lambda: self.client.create_order(request), resend_safe=True)


@dataclass(frozen=True)
class DropdaySupplier:
    client: DropdayClient

    def read(self, order_id: str, reference: str | None) -> SupplierReading:
        return self.client.read_order(order_id, reference)


@cached_port
def dropday_port(base_url: str, key: str, account_id: str, timeout: float, source: str, test: bool) -> Port:
    client = DropdayClient(base_url, key, account_id, timeout)
    return Port(orders=DropdayOrders(client, source, test), supplier=DropdaySupplier(client))
