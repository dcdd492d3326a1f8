"""The webhook aggregate: each Sign Customiser webhook delivery, recorded once by its body's
digest, with the order an order:created names (and its link to our own order id)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from signbridge.errors import StoreUnavailable
from signbridge.models.items import (
    ScOrderLink,
    ScOrderRecord,
    WebhookDelivery,
    sc_order_key,
    sc_order_link_key,
    webhook_key,
)
from signbridge.store.base import TableAccess, cancellation_codes, dependency, to_item


@dataclass
class WebhookOutcome:
    duplicate_delivery: bool


class WebhookStore(TableAccess):
    def record_webhook(self, delivery: WebhookDelivery, order: ScOrderRecord | None) -> WebhookOutcome:
        """Record a delivery once (by body digest) and, for order:created, its order once."""
        delivery_put = {
            "Put": {
                "TableName": self.table_name,
                "Item": to_item(webhook_key(delivery.digest), delivery),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }
        items: list[dict[str, Any]] = [delivery_put]
        if order is not None:
            items.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": to_item(sc_order_key(order.sc_order_id), order),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            )
            if order.external_id:
                link = ScOrderLink(
                    sc_order_id=order.sc_order_id,
                    external_id=order.external_id,
                    external_order_number=order.external_order_number,
                    currency=order.currency,
                    product_external_ids=order.product_external_ids,
                    linked_at=order.received_at,
                )
                key = sc_order_link_key(order.external_id, order.sc_order_id)
                items.append({"Put": {"TableName": self.table_name, "Item": to_item(key, link)}})
        try:
            with dependency():
                self.client.transact_write_items(TransactItems=items)
            return WebhookOutcome(duplicate_delivery=False)
        except ClientError as exc:
            codes = cancellation_codes(exc)
            if not codes:
                raise
        if codes[0] == "ConditionalCheckFailed":
            return WebhookOutcome(duplicate_delivery=True)
        if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
            # The same Sign Customiser order, in a delivery whose bytes differ: keep the
            # delivery for the record, the order stays as first recorded.
            try:
                with dependency():
                    self.client.transact_write_items(TransactItems=[delivery_put])
            except ClientError as again:
                if not cancellation_codes(again):
                    raise
            return WebhookOutcome(duplicate_delivery=False)
        raise StoreUnavailable()
