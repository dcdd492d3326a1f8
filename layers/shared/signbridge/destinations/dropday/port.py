"""Dropday as the forwarder sees it: an order sink (it receives no order event)."""

from __future__ import annotations

from dataclasses import dataclass

from signbridge.destinations import cached_port
from signbridge.destinations.dropday.client import DropdayClient
from signbridge.destinations.dropday.mapper import to_dropday_order
from signbridge.ports import OrderContext, Plan, Port, one_step


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


@cached_port
def dropday_port(base_url: str, key: str, account_id: str, timeout: float, source: str, test: bool) -> Port:
    return Port(orders=DropdayOrders(DropdayClient(base_url, key, account_id, timeout), source, test))
