"""The follow-up's schedule: Given the settings, Then each read is due one wait after the last (the
last wait repeating), never past the window's end, and a malformed setting is refused by name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from signbridge.follow_up_settings import FollowUpSettings
from signbridge.logic.follow_up import Policy

ACCEPTED = 1_700_000_000


def test_the_first_read_is_the_first_wait_after_acceptance():
    assert Policy().first_read(ACCEPTED) == ACCEPTED + 600


def test_each_read_waits_the_next_wait_and_the_last_repeats():
    policy, now, due = Policy(schedule=(600, 3_600, 21_600)), ACCEPTED, []
    for reads in range(5):
        now = policy.next_read(ACCEPTED, now, reads)
        due.append(now - ACCEPTED)
    assert due == [600, 4_200, 25_800, 47_400, 69_000]


def test_no_read_is_due_past_the_window_and_one_falls_on_its_end():
    policy = Policy(schedule=(600, 21_600), window_seconds=86_400)
    assert policy.next_read(ACCEPTED, ACCEPTED + 80_000, 3) == ACCEPTED + 86_400
    assert policy.window_end(ACCEPTED) == ACCEPTED + 86_400


def test_the_settings_make_the_policy(monkeypatch):
    monkeypatch.setenv("FOLLOW_UP_SCHEDULE_SECONDS", "300, 1800")
    monkeypatch.setenv("FOLLOW_UP_WINDOW_DAYS", "7")
    monkeypatch.setenv("FOLLOW_UP_READS_PER_RUN", "20")
    policy = FollowUpSettings().policy(held_retry_seconds=120)
    assert policy == Policy(schedule=(300, 1_800), window_seconds=7 * 86_400, per_run=20, held_retry_seconds=120)


def test_the_defaults_are_ten_minutes_an_hour_then_every_six_hours_for_fourteen_days():
    assert FollowUpSettings().policy() == Policy(schedule=(600, 3_600, 21_600), window_seconds=14 * 86_400, per_run=50)


@pytest.mark.parametrize("value", [",", "10", "600,abc", "0,600"])
def test_a_malformed_schedule_names_its_variable(monkeypatch, value):
    monkeypatch.setenv("FOLLOW_UP_SCHEDULE_SECONDS", value)
    with pytest.raises(ValidationError, match="follow_up_schedule_seconds"):
        FollowUpSettings()
