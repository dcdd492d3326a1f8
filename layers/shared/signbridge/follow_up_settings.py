"""The follow-up's settings (``signbridge.logic.follow_up``), read by the outbox (when the first
read is due) and the sweeper (the schedule, the window, the reads per run): a model of their own,
so the outbox's cold start does not build the core settings."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from signbridge.logic.follow_up import Policy


class FollowUpSettings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True, env_ignore_empty=True)

    # The wait before each read, in seconds, counted from the acceptance and then from each read;
    # the last one repeats.
    follow_up_schedule_seconds: Annotated[tuple[int, ...], NoDecode] = (600, 3_600, 21_600)
    follow_up_window_days: int = Field(default=14, ge=1, le=90)
    follow_up_reads_per_run: int = Field(default=50, ge=1, le=1_000)

    @field_validator("follow_up_schedule_seconds", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(int(part) for part in value.split(",") if part.strip())
        return value

    @field_validator("follow_up_schedule_seconds")
    @classmethod
    def _waits(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(wait < 60 for wait in value):
            raise ValueError("one or more waits in seconds, each at least 60")
        return value

    def policy(self, held_retry_seconds: int = 300) -> Policy:
        return Policy(
            schedule=self.follow_up_schedule_seconds,
            window_seconds=self.follow_up_window_days * 86_400,
            per_run=self.follow_up_reads_per_run,
            held_retry_seconds=held_retry_seconds,
        )
