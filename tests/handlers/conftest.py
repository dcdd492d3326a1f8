"""The in-process pipeline on moto, wired to the provider fakes."""

from __future__ import annotations

import pytest

from tests.support.pipeline import Pipeline, wire_pipeline


@pytest.fixture
def pipeline(table, fakes, configure, lambda_context) -> Pipeline:
    return wire_pipeline(configure, fakes, lambda_context, "signbridge-test")
