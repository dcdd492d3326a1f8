"""What the orders function's platform intake uses: the order aggregate, and the product mappings
that tell an order's custom lines (the external_ids signbridge issued)."""

from __future__ import annotations

from signbridge.store.orders import OrderStore
from signbridge.store.products import ProductStore


class OrderIntakeStore(OrderStore, ProductStore):
    """Orders, their deliveries and events, and the product mappings, on one client."""
