"""What every console command shares: where it acts (the table, the DLQ, a stack's resources),
the error an operator can fix, and reading deliveries from the state index."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from signbridge.lifecycle import DeliveryState
from signbridge.models.items import DeliveryRecord
from signbridge.settings import Destination
from signbridge.store import Store

ROOT = Path(__file__).resolve().parents[2]
LOCAL_STACK_FILE = ROOT / ".local" / "stack.json"


class ConsoleError(Exception):
    """A problem the operator can fix; printed without a traceback, exit status 1."""


@dataclass
class Target:
    table_name: str | None = None
    dlq_url: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    local: bool = False

    def client(self, service: str) -> Any:
        # MiniStack accepts any credentials; a machine without AWS credentials should still reach it.
        dummy = "test" if self.local else None
        return boto3.client(  # type: ignore[call-overload]  # the stubs type only literal service names
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=dummy,
            aws_secret_access_key=dummy,
        )

    def store(self) -> Store:
        if not self.table_name:
            raise ConsoleError("Which table? Pass --table, --stack NAME or --local.")
        return Store(self.table_name, self.client("dynamodb"))

    def dlq(self) -> str:
        if not self.dlq_url:
            raise ConsoleError("Which DLQ? Pass --dlq-url, --stack NAME or --local.")
        return self.dlq_url


def updated_since(delivery: DeliveryRecord, since: datetime | None) -> bool:
    if since is None:
        return True
    updated = datetime.fromisoformat(delivery.updated_at)
    return (updated if updated.tzinfo else updated.replace(tzinfo=UTC)) >= since


def destination_names(destination: str | None) -> list[str]:
    """The destinations a command looks at: the one named, or every known one."""
    known = [d.value for d in Destination]
    if destination is None:
        return known
    if destination not in known:
        raise ConsoleError(f"Unknown destination {destination!r} (known: {', '.join(known)}).")
    return [destination]


def find_deliveries(
    store: Store, destinations: Sequence[str], state: DeliveryState, since: datetime | None, limit: int | None
) -> tuple[list[DeliveryRecord], bool]:
    """Deliveries in ``state`` updated at or after ``since``, oldest change first, from the index;
    and whether ``limit`` cut the list short."""
    found: list[DeliveryRecord] = []
    for destination in destinations:
        taken = 0
        for d in store.deliveries_in_state(destination, state):
            if not updated_since(d, since):
                continue
            found.append(d)
            taken += 1
            if limit is not None and taken > limit:  # one more than asked: enough to say more match
                break
    found.sort(key=lambda d: (d.updated_at, d.order_id, d.destination))
    if limit is not None and len(found) > limit:
        return found[:limit], True
    return found, False
