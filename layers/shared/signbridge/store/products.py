"""The product aggregate: each Sign Customiser product's mapping to its external_id, stored both
ways (by product id and by external_id), so that one external_id can never name two products."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from signbridge.errors import Conflict, StoreUnavailable, problem
from signbridge.models.items import ProductMapping, product_by_external_key, product_by_sc_key
from signbridge.store.base import TableAccess, cancellation_codes, dependency, from_item, key_of, to_item


class ProductStore(TableAccess):
    def record_product(self, mapping: ProductMapping) -> tuple[ProductMapping, bool]:
        """Store the mapping both ways; return the mapping that holds and whether it is new.

        The first writer for a product_id wins; later ones get the winner's mapping back.
        """
        attributes = to_item({}, mapping)  # serialized once, stored under both keys
        try:
            with dependency():
                self.client.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.table_name,
                                "Item": {**key_of(key), **attributes},
                                "ConditionExpression": "attribute_not_exists(PK)",
                            }
                        }
                        for key in (product_by_sc_key(mapping.product_id), product_by_external_key(mapping.external_id))
                    ]
                )
            return mapping, True
        except ClientError as exc:
            codes = cancellation_codes(exc)
            if not codes:
                raise
        existing = self.get_product(mapping.product_id)
        if existing is not None:
            return existing, False
        if codes[1] == "ConditionalCheckFailed":
            raise Conflict(
                f"external_id {mapping.external_id!r} already belongs to another Sign Customiser product.",
                details=[problem("external_id", "belongs to another product", received=mapping.external_id)],
            )
        raise StoreUnavailable()  # cancelled for another reason (e.g. a concurrent transaction): retry

    def get_product(self, product_id: int) -> ProductMapping | None:
        item = self._get(product_by_sc_key(product_id))
        return ProductMapping.model_validate(item) if item else None

    def get_products_by_external_id(self, external_ids: list[str]) -> dict[str, ProductMapping]:
        """Mappings for those of ``external_ids`` that signbridge issued."""
        found: dict[str, ProductMapping] = {}
        unique = list(dict.fromkeys(external_ids))
        for start in range(0, len(unique), 100):
            keys = [{k: {"S": v} for k, v in product_by_external_key(e).items()} for e in unique[start : start + 100]]
            request: dict[str, Any] = {self.table_name: {"Keys": keys}}
            while request:
                with dependency():
                    response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    mapping = ProductMapping.model_validate(from_item(item))
                    found[mapping.external_id] = mapping
                request = response.get("UnprocessedKeys") or {}
        return found
