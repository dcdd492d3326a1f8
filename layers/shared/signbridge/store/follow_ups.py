"""Follow-ups of delivered orders (``signbridge.models.follow_up``): started once by the outbox,
read and moved on by the sweeper through the ``ByDeliveryState`` index (only what is due, never a
scan), listed by the console. Every write is conditional: on the item not existing (start) or on
its revision as read (the sweeper's saves), so a redelivered stream record or an overlapping
sweep changes nothing twice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from signbridge.models.follow_up import (
    FollowUpRecord,
    follow_up_index_key,
    follow_up_key,
    pause_key,
)
from signbridge.models.items import DELIVERY_STATE_INDEX
from signbridge.store.base import TableAccess, condition_failed, dependency, from_item, key_of, serializer


def _attributes(record: FollowUpRecord) -> dict[str, Any]:
    """What the item holds besides its key, with the index's attributes when it is in the index."""
    data = record.model_dump(mode="json", exclude_none=True)
    stage, due = record.outcome.stage, record.due_at()
    if stage is not None and due is not None:
        data["state_key"] = follow_up_index_key(record.destination, stage)
        data["due_at"] = due
    return data


class FollowUpStore(TableAccess):
    def start_follow_up(self, record: FollowUpRecord) -> bool:
        """Write a new follow-up; False when the order already has one for this destination."""
        data = _attributes(record)
        names = {f"#a{n}": name for n, name in enumerate(data)}
        values = {f":v{n}": serializer.serialize(value) for n, value in enumerate(data.values())}
        try:
            with dependency():
                self.client.update_item(
                    TableName=self.table_name,
                    Key=key_of(follow_up_key(record.order_id, record.destination)),
                    UpdateExpression="SET " + ", ".join(f"#a{n} = :v{n}" for n in range(len(data))),
                    ConditionExpression="attribute_not_exists(PK)",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def save_follow_up(self, before: FollowUpRecord, after: FollowUpRecord) -> bool:
        """Write ``after`` over the follow-up as it was read (``before``); False when it changed since."""
        data = _attributes(after.model_copy(update={"rev": before.rev + 1}))
        gone = [name for name in ("state_key", "due_at", *FollowUpRecord.model_fields) if name not in data]
        names = {f"#a{n}": name for n, name in enumerate([*data, *gone])}
        values = {f":v{n}": serializer.serialize(value) for n, value in enumerate(data.values())}
        values[":rev"] = {"N": str(before.rev)}
        expression = "SET " + ", ".join(f"#a{n} = :v{n}" for n in range(len(data)))
        if gone:
            expression += " REMOVE " + ", ".join(f"#a{n}" for n in range(len(data), len(data) + len(gone)))
        try:
            with dependency():
                self.client.update_item(
                    TableName=self.table_name,
                    Key=key_of(follow_up_key(before.order_id, before.destination)),
                    UpdateExpression=expression,
                    ConditionExpression="rev = :rev",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def get_follow_up(self, order_id: str, destination: str) -> FollowUpRecord | None:
        item = self._get(follow_up_key(order_id, destination))
        return FollowUpRecord.model_validate(item) if item else None

    def follow_ups(
        self, destination: str, stage: str, *, due_by: int | None = None, limit: int | None = None
    ) -> Iterator[FollowUpRecord]:
        """One stage's follow-ups, soonest due first (the index); ``due_by``: only those due by then."""
        values: dict[str, Any] = {":sk": {"S": follow_up_index_key(destination, stage)}}
        condition = "state_key = :sk"
        if due_by is not None:
            condition += " AND due_at <= :due"
            values[":due"] = {"N": str(due_by)}
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": DELIVERY_STATE_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if limit is not None:
            kwargs["Limit"] = limit
        returned = 0
        while True:
            with dependency():
                response = self.client.query(**kwargs)
            for item in response.get("Items", []):
                yield FollowUpRecord.model_validate(from_item(item))
                returned += 1
                if limit is not None and returned >= limit:
                    return
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def count_follow_ups(self, destination: str, stage: str) -> int:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": DELIVERY_STATE_INDEX,
            "KeyConditionExpression": "state_key = :sk",
            "ExpressionAttributeValues": {":sk": {"S": follow_up_index_key(destination, stage)}},
            "Select": "COUNT",
        }
        total = 0
        while True:
            with dependency():
                response = self.client.query(**kwargs)
            total += int(response.get("Count", 0))
            if "LastEvaluatedKey" not in response:
                return total
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def read_pause(self, destination: str) -> int:
        """Until when (Unix seconds) the destination asked us not to read (a 429's Retry-After); 0: none."""
        item = self._get(pause_key(destination))
        return int(item.get("until", 0)) if item else 0

    def pause_reads(self, destination: str, until: int) -> None:
        with dependency():
            self.client.update_item(
                TableName=self.table_name,
                Key=key_of(pause_key(destination)),
                UpdateExpression="SET #u = :until",
                ExpressionAttributeNames={"#u": "until"},
                ExpressionAttributeValues={":until": {"N": str(until)}},
            )
