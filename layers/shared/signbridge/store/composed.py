"""Every aggregate over the one table, for the callers that need them all: the forwarder and the
sweeper, the operator console, and tests. The API and stream functions wire only their own."""

from __future__ import annotations

from signbridge.store.follow_ups import FollowUpStore
from signbridge.store.intake import OrderIntakeStore
from signbridge.store.queries import DeliveryQueries
from signbridge.store.webhooks import WebhookStore


class Store(OrderIntakeStore, WebhookStore, DeliveryQueries, FollowUpStore):
    """Products, orders and deliveries (with order events), webhooks, operator queries and follow-ups."""
