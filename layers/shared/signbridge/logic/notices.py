"""What a delivery's ``last_error`` says to a person when one must act: the words and the command."""

from __future__ import annotations

from datetime import UTC, datetime

from signbridge.models.items import DeliveryError
from signbridge.ports import Traits

CANCEL_BY_HAND = "cancel_by_hand"


def in_doubt_error(
    order_id: str, destination: str, event_id: str | None, step: str | None, reason: str, confirmable: bool
) -> DeliveryError:
    what = f"step `{step}`" if step else "the request"
    if confirmable:
        return DeliveryError(
            code="in_doubt",
            message=f"{reason}: the destination may have acted on {what}. Waiting for its own confirmation "
            "(its order:created webhook) before an operator is asked.",
        )
    event = f" --event {event_id}" if event_id else ""
    return DeliveryError(
        code="in_doubt",
        message=f"{reason}: the destination may have acted on {what}, and it documents no duplicate rule, so it "
        f"is not sent again. Check the destination, then run "
        f"`signbridge order resolve {order_id} {destination}{event} --delivered|--resend`.",
    )


def uncertain_withdrawal(traits: Traits, order_id: str, since: int) -> DeliveryError:
    when = datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds")
    return DeliveryError(
        code=CANCEL_BY_HAND,
        message=f"The order was cancelled after an attempt to send it to {traits.title} at {when} went "
        f"unanswered: {traits.title} may have it. Look for it there; if it is there, cancel it by hand. Then "
        f"run `signbridge cancellations done {order_id}`.",
    )
