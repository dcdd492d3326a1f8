"""Issued product ids: Given Sign Customiser's product, Then one stable external_id under the merchant's prefix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signbridge.logic.products import derived_external_id
from signbridge.models.signcustomiser import ProductCreated, ScProduct

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "signcustomiser_product_created.json"


@pytest.fixture
def product() -> ScProduct:
    return ProductCreated.model_validate(json.loads(FIXTURE.read_text())).product


def test_the_documented_product_gets_sc_1(product):
    assert derived_external_id("sc-")(product) == "sc-1"


def test_the_id_is_the_same_on_every_delivery(product):
    issue = derived_external_id("sc-")
    redelivered = product.model_copy(update={"title": "Custom Neon: Hello World (edited)", "price": 12000})
    assert issue(product) == issue(product) == issue(redelivered) == derived_external_id("sc-")(product)


@pytest.mark.parametrize(("prefix", "expected"), [("neon-", "neon-1"), ("", "1"), ("shop/sc:", "shop/sc:1")])
def test_the_merchants_prefix_is_respected(product, prefix, expected):
    assert derived_external_id(prefix)(product) == expected


def test_different_products_get_different_ids(product):
    other = product.model_copy(update={"product_id": 1042})
    issue = derived_external_id("sc-")
    assert (issue(product), issue(other)) == ("sc-1", "sc-1042")
