"""What fits in one DynamoDB item, checked before writing so that too much is a clear 413.

DynamoDB refuses an item over 400 KB (409,600 bytes, names and values). An item's size is
never more than its JSON text (JSON adds quotes, commas and escapes), so the JSON size is a
safe bound; the budget leaves room for the keys and for what the forwarder later adds.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from signbridge.errors import TooLargeToStore

STORED_ITEM_BUDGET_BYTES = 350_000


def _size(value: object) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", errors="surrogatepass"))


def storable(stored: BaseModel) -> bool:
    return len(stored.model_dump_json().encode("utf-8")) <= STORED_ITEM_BUDGET_BYTES


def ensure_storable(stored: BaseModel, sent: Any, field_prefix: str = "") -> None:
    """413 when ``stored`` would pass the budget, naming the largest fields of ``sent`` (what
    the caller sent, as JSON data) so the sender can see what to shorten."""
    size = len(stored.model_dump_json().encode("utf-8"))
    if size <= STORED_ITEM_BUDGET_BYTES:
        return
    fields = sent if isinstance(sent, dict) and sent else {"": sent}
    largest = sorted(fields, key=lambda name: _size(fields[name]), reverse=True)[:3]
    raise TooLargeToStore(
        f"What would be stored is {size} bytes; the limit is {STORED_ITEM_BUDGET_BYTES}.",
        details=[
            {
                "field": f"{field_prefix}{name}" if name else "(body)",
                "message": f"{_size(fields[name])} bytes as stored",
                "limit_bytes": STORED_ITEM_BUDGET_BYTES,
            }
            for name in largest
        ],
    )
