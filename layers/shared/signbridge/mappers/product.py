"""Sign Customiser product → the stored product mapping (what a supplier will need to make it)."""

from __future__ import annotations

from signbridge.models.items import ProductMapping
from signbridge.models.signcustomiser import ScProduct


def to_product_mapping(product: ScProduct, external_id: str, created_at: str) -> ProductMapping:
    return ProductMapping(
        product_id=product.product_id,
        external_id=external_id,
        title=product.title,
        description=product.description,
        price=product.price,
        image_url=product.product_image_url,
        upload_urls=[upload.url for upload in product.uploads],
        snapshot=product.model_dump_json(),
        created_at=created_at,
    )
