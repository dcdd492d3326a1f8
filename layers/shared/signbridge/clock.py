"""The one clock every delivery decision reads (the store's times, the engine, the queue adapter,
the intake's moves, the sweeper). Tests that move time replace ``now``."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    """Unix seconds."""
    return time.time()


def stamp() -> tuple[int, str]:
    """Now as the store's Unix second and as the ISO time written to ``updated_at``."""
    moment = now()
    return int(moment), datetime.fromtimestamp(moment, UTC).isoformat()
