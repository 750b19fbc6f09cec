"""The persistent-drift rule: K failing days of the last N, once per episode, late labels included."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from mlops.sidecar.persistence import DailyConfig, episodes, new_episodes

CFG = DailyConfig(window_days=5, min_failing_days=3, stalled_shipper_hours=26, min_realized_labels=200)
D0 = date(2026, 11, 1)


def days(n: int) -> list[date]:
    return [D0 + timedelta(days=i) for i in range(n)]


def failing_from(first: int, n: int = 20, last: int | None = None) -> dict[date, list[str]]:
    return {
        d: (["key feature drifted: lawyer_hourly_rate"] if first <= i <= (last or n) else [])
        for i, d in enumerate(days(n), 1)
    }


def test_quiet_history_has_no_episode() -> None:
    assert episodes(failing_from(99), days(20), CFG) == []


def test_drift_from_day_11_fires_once_on_day_13() -> None:
    found = episodes(failing_from(11), days(20), CFG)
    assert len(found) == 1
    assert found[0].first == D0 + timedelta(days=12)  # day 13: the third failing day
    assert found[0].last == D0 + timedelta(days=19)
    assert len(found[0].failing_days) == 3 and "lawyer_hourly_rate" in found[0].reasons[0]


def test_two_failing_days_in_five_do_not_fire() -> None:
    failing = failing_from(11, last=12)
    assert episodes(failing, days(20), CFG) == []


def test_an_alerted_episode_is_not_raised_again() -> None:
    failing = failing_from(11)
    [episode] = episodes(failing, days(20), CFG)
    assert new_episodes(failing, days(20), {episode.first}, CFG) == []
    # a later day of the same episode alerted also covers it (a backfill that moved its start)
    assert new_episodes(failing, days(20), {episode.last}, CFG) == []


def test_a_second_episode_after_a_quiet_spell_fires_again() -> None:
    failing = {d: ["x"] if i in (3, 4, 5, 15, 16, 17) else [] for i, d in enumerate(days(20), 1)}
    found = new_episodes(failing, days(20), {D0 + timedelta(days=4)}, CFG)
    assert [e.first for e in found] == [D0 + timedelta(days=16)]


def test_late_labels_start_an_episode_in_the_past() -> None:
    """Concept drift: days 11-20 fail only once their outcomes arrive; the episode is found then."""
    before = failing_from(99)
    assert new_episodes(before, days(20), set(), CFG) == []
    after = failing_from(11)
    assert [e.first for e in new_episodes(after, days(20), set(), CFG)] == [D0 + timedelta(days=12)]


def test_a_missing_day_neither_fails_nor_splits_an_episode() -> None:
    all_days = [d for i, d in enumerate(days(20), 1) if i != 16]
    failing = {d: ["x"] if d >= D0 + timedelta(days=10) else [] for d in all_days}
    [episode] = episodes(failing, all_days, CFG)  # days 11-20 without day 16: one episode, one alert
    assert (episode.first, episode.last) == (D0 + timedelta(days=12), D0 + timedelta(days=19))


def test_an_alert_before_a_moved_start_still_covers_the_episode() -> None:
    """A backfill (or late labels) that moves an alerted episode's start later alerts nothing new."""
    failing = failing_from(12)  # the start moved from day 13 to day 14
    assert new_episodes(failing, days(20), {D0 + timedelta(days=12)}, CFG) == []


def test_a_missing_day_counts_as_not_failing() -> None:
    all_days = [d for i, d in enumerate(days(20), 1) if i != 12]
    failing = {d: ["x"] for d in all_days[10:]}
    [episode] = episodes(failing, all_days, CFG)
    assert episode.first == D0 + timedelta(days=13)  # days 11, 13, 14 (12 is missing)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (None, "no 'daily' section"),
        (
            {"window_days": 3, "min_failing_days": 4, "stalled_shipper_hours": 1, "min_realized_labels": 1},
            "min_failing_days <= window_days",
        ),
        (
            {
                "window_days": 3,
                "min_failing_days": 2,
                "stalled_shipper_hours": 1,
                "min_realized_labels": 1,
                "k": 1,
            },
            "unknown setting(s) k",
        ),
    ],
)
def test_bad_settings_are_refused_by_name(section: dict | None, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        DailyConfig.from_params({"daily": section} if section is not None else {})
