"""Sign Customiser as the forwarder sees it: an order sink whose create must not be sent twice
(no duplicate rule is documented), and a confirmer: its own order:created webhook names each
order it created."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from signbridge.destinations import cached_port
from signbridge.destinations.signcustomiser.client import SignCustomiserClient
from signbridge.destinations.signcustomiser.mapper import to_signcustomiser_order
from signbridge.destinations.signcustomiser.models import ScCreateOrderRequest
from signbridge.models.items import ScOrderLink
from signbridge.ports import OrderContext, Plan, Port, one_step


def same_order(request: ScCreateOrderRequest, link: ScOrderLink) -> bool:
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


@dataclass(frozen=True)
class SignCustomiserOrders:
    client: SignCustomiserClient
    integration_id: int

    def request(self, context: OrderContext) -> ScCreateOrderRequest | None:
        return to_signcustomiser_order(context.order, context.custom_line_ids, self.integration_id)

    def plan_order(self, context: OrderContext) -> Plan | None:
        request = self.request(context)
        if request is None:
            return None
        return one_step("create_order", lambda: self.client.create_order(request), resend_safe=False)

    def confirmation(self, context: OrderContext, links: Sequence[ScOrderLink]) -> ScOrderLink | None:
        request = self.request(context)
        return next((link for link in links if request is not None and same_order(request, link)), None)


@cached_port
def signcustomiser_port(base_url: str, token: str, timeout: float, integration_id: int) -> Port:
    orders = SignCustomiserOrders(SignCustomiserClient(base_url, token, timeout), integration_id)
    return Port(orders=orders, confirmer=orders)
