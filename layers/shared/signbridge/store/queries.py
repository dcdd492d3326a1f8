"""Operator queries: deliveries by destination and state through the sparse ByDeliveryState
index (the sweeper, the console's listings), and the one-off reindex after an upgrade."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from signbridge.models.items import (
    DELIVERY_STATE_INDEX,
    DeliveryRecord,
    DeliveryState,
    delivery_key,
    delivery_state_key,
)
from signbridge.store.base import TableAccess, condition_failed, dependency, from_item, key_of


class DeliveryQueries(TableAccess):
    def deliveries_in_state(
        self,
        destination: str,
        state: DeliveryState,
        *,
        due_before: int | None = None,
        limit: int | None = None,
    ) -> Iterator[DeliveryRecord]:
        """Deliveries of one destination in one unsettled state, soonest due first (the index,
        never a scan). ``due_before`` keeps those due before that Unix second."""
        values: dict[str, Any] = {":sk": {"S": delivery_state_key(destination, state)}}
        condition = "state_key = :sk"
        if due_before is not None:
            condition += " AND due_at < :due"
            values[":due"] = {"N": str(due_before)}
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": DELIVERY_STATE_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        returned = 0
        while True:
            with dependency():
                response = self.client.query(**kwargs)
            for item in response.get("Items", []):
                record = DeliveryRecord.model_validate(from_item(item))
                if record.state is not state:  # the index is eventually consistent
                    continue
                yield record
                returned += 1
                if limit is not None and returned >= limit:
                    return
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def index_unindexed_deliveries(self, now: int) -> list[DeliveryRecord]:
        """Put unsettled deliveries written by a version without the state index into it (a Scan:
        a one-off after upgrading, from the console). Returns those indexed."""
        settled = [state for state in DeliveryState if state.settled]
        values: dict[str, Any] = {":delivery": {"S": "DELIVERY#"}}
        for n, state in enumerate(settled):
            values[f":settled{n}"] = {"S": state}
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "begins_with(SK, :delivery) AND attribute_not_exists(state_key) "
            f"AND NOT #s IN ({', '.join(f':settled{n}' for n in range(len(settled)))})",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": values,
        }
        indexed: list[DeliveryRecord] = []
        while True:
            with dependency():
                response = self.client.scan(**kwargs)
            for item in response.get("Items", []):
                delivery = DeliveryRecord.model_validate(from_item(item))
                try:
                    with dependency():
                        self.client.update_item(
                            TableName=self.table_name,
                            Key=key_of(delivery_key(delivery.order_id, delivery.destination, delivery.event_seq)),
                            UpdateExpression="SET state_key = :sk, due_at = :due",
                            ConditionExpression="attribute_not_exists(state_key) AND #s = :state",
                            ExpressionAttributeNames={"#s": "state"},
                            ExpressionAttributeValues={
                                ":sk": {"S": delivery_state_key(delivery.destination, delivery.state)},
                                ":due": {"N": str(delivery.due_at(now))},
                                ":state": {"S": delivery.state},
                            },
                        )
                    indexed.append(delivery)
                except ClientError as exc:
                    if not condition_failed(exc):
                        raise
            if "LastEvaluatedKey" not in response:
                return indexed
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
