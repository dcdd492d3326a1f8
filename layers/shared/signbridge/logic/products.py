"""product:created: give every Sign Customiser product one stable external_id, and remember it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from signbridge.logic.limits import ensure_storable
from signbridge.mappers.product import to_product_mapping
from signbridge.models.items import ProductMapping
from signbridge.models.signcustomiser import ScProduct
from signbridge.store.products import ProductStore

IdIssuer = Callable[[ScProduct], str]


def derived_external_id(prefix: str) -> IdIssuer:
    """The default: a stable id from Sign Customiser's product id, e.g. ``sc-1042``."""

    def issue(product: ScProduct) -> str:
        return f"{prefix}{product.product_id}"

    return issue


def record_product(product: ScProduct, store: ProductStore, issue_id: IdIssuer, *, ask_first: bool) -> ProductMapping:
    """The mapping for ``product``: the one already held, or a new one.

    The conditional write in ``ProductStore.record_product`` decides which id wins when deliveries
    race. ``ask_first`` (platform mode) looks the product up before asking the platform, so a
    plain redelivery does not create the product on the platform twice.
    """
    if ask_first:
        existing = store.get_product(product.product_id)
        if existing is not None:
            return existing
    created_at = datetime.now(UTC).isoformat()
    # Before the platform is asked to create anything: a product too large to store is a 413.
    ensure_storable(to_product_mapping(product, "", created_at), product.model_dump(mode="json"), "product.")
    mapping = to_product_mapping(product, issue_id(product), created_at)
    held, _ = store.record_product(mapping)
    return held
