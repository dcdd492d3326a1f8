from __future__ import annotations


class MappingFailed(ValueError):
    """The order cannot be expressed in a destination's format (e.g. an unknown province)."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field
