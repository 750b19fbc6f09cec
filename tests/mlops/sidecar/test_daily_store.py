"""The daily monitor's bookkeeping: which days are complete, data gaps, outcomes as of a time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd

from logstore.store import HostState
from mlops.sidecar.daily_store import complete_days, data_alerts, outcomes_as_of
from mlops.sidecar.persistence import DailyConfig

CFG = DailyConfig(window_days=5, min_failing_days=3, stalled_shipper_hours=26, min_realized_labels=200)
NOW = datetime.now(UTC)


class Store:
    """The three questions the bookkeeping asks a log store, answered from fixed values."""

    def __init__(
        self, days: list[date], hosts: dict[str, HostState], outcomes: pd.DataFrame | None = None
    ) -> None:
        self._days, self._hosts, self._outcomes = days, hosts, outcomes

    def days(self) -> list[date]:
        return self._days

    def hosts(self) -> dict[str, HostState]:
        return self._hosts

    def complete_through(self) -> datetime | None:
        done = [h.complete_through for h in self._hosts.values()]
        return None if not done or None in done else min(done)

    def outcomes(self, latest: bool = True) -> pd.DataFrame:
        keep = self._outcomes.drop_duplicates(["match_id", "lawyer_id"], keep="last")
        return keep if latest else self._outcomes


def host(name: str, last_run: datetime, through: datetime | None, rows: int = 10) -> HostState:
    return HostState(name, last_run, through, 1, rows)


def test_a_day_is_complete_when_every_host_shipped_past_its_end() -> None:
    days = [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)]
    store = Store(days, {
        "web1": host("web1", NOW, datetime(2026, 11, 4, 0, 5, tzinfo=UTC)),
        "web2": host("web2", NOW, datetime(2026, 11, 3, 0, 5, tzinfo=UTC)),  # still holds the 3rd
    })  # fmt: skip
    assert complete_days(store, NOW) == days[:2]
    # as of the 3rd's noon (a replay), the 3rd is not over yet whatever the hosts say
    assert complete_days(store, datetime(2026, 11, 2, 12, tzinfo=UTC)) == days[:1]


def test_a_missing_day_an_idle_or_stalled_shipper_and_an_empty_store_are_alerts() -> None:
    days = [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 4)]
    store = Store(days, {
        "web1": host("web1", NOW - timedelta(hours=1), NOW),
        "web2": host("web2", NOW - timedelta(hours=30), NOW - timedelta(hours=30)),
        "web3": host("web3", NOW - timedelta(hours=2), NOW, rows=0),  # runs, ships nothing
    })  # fmt: skip
    alerts = data_alerts(store, days, CFG)
    assert len(alerts) == 3, alerts
    assert "2026-11-03" in alerts[0] and "missing day" in alerts[0]
    assert alerts[1].startswith("host web2's shipper last ran 30 hours ago")
    assert alerts[2].startswith("host web3's shipper ran at") and "shipped no row" in alerts[2]
    fine = Store(days[:2], {"web1": host("web1", NOW, NOW)})
    assert data_alerts(fine, days[:2], CFG) == []
    assert "no shipper's record" in data_alerts(Store([], {}), [], CFG)[0]


def test_outcomes_count_only_once_recorded_before_as_of() -> None:
    outcomes = pd.DataFrame({
        "match_id": ["a", "a", "b"], "lawyer_id": ["1", "1", "2"], "outcome": ["declined", "engaged", "engaged"],
        "label": [0, 1, 1], "recorded_at": ["2026-11-01T10:00:00+00:00", "2026-11-20T10:00:00+00:00", "2026-11-02T10:00:00+00:00"],
    })  # fmt: skip
    early = outcomes_as_of(Store([], {}, outcomes), datetime(2026, 11, 10, tzinfo=UTC))
    assert early[["match_id", "label"]].values.tolist() == [["a", 0], ["b", 1]]
    late = outcomes_as_of(Store([], {}, outcomes), datetime(2026, 12, 1, tzinfo=UTC))
    assert sorted(late[["match_id", "label"]].values.tolist()) == [["a", 1], ["b", 1]]  # the correction wins
