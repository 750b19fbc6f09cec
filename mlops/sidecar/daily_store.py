"""What the log store says to the daily monitor: which days are complete, which outcomes were
recorded by a given time, and where the data has gaps (a missing day, an idle or stalled shipper)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from mlops.sidecar.persistence import DailyConfig

log = logging.getLogger(__name__)


def outcomes_as_of(store: Any, as_of: datetime) -> pd.DataFrame:
    """Every outcome in the store recorded before ``as_of``; of a pair's records the last of those
    wins (a correction counts from when it was made). A record without a readable ``recorded_at``
    (an older export) counts, and is said once."""
    out = store.outcomes(latest=False)
    if len(out):
        recorded = pd.to_datetime(out["recorded_at"], utc=True, format="ISO8601", errors="coerce")
        unknown = int(recorded.isna().sum())
        if unknown:
            log.info(
                "%d outcome record(s) carry no readable recorded_at: counted as recorded already.", unknown
            )
        out = out[(recorded.isna() | (recorded < as_of)).to_numpy()]
    return out.drop_duplicates(["match_id", "lawyer_id"], keep="last")


def complete_days(store: Any, as_of: datetime) -> list[date]:
    """Days served before ``as_of`` whose every host has shipped past their end."""
    through = store.complete_through()
    limit = as_of if through is None else min(as_of, through)
    return [
        d for d in store.days() if datetime.combine(d + timedelta(days=1), datetime.min.time(), UTC) <= limit
    ]


def data_alerts(store: Any, days: list[date], cfg: DailyConfig) -> list[str]:
    """A day with no shipped prediction between the first and the last, no shipper's record at all,
    a shipper whose last run shipped nothing (a wrong PREDICTION_LOG, a service down), or one that
    has stopped running."""
    hosts = store.hosts()
    if not hosts:
        return [f"the log store {store} has no shipper's record (hosts/): nothing was ever shipped to it"]
    alerts = []
    if days:
        have = set(days)
        span = (days[-1] - days[0]).days
        missing = [
            days[0] + timedelta(days=i) for i in range(span + 1) if days[0] + timedelta(days=i) not in have
        ]
        alerts += [f"no prediction was shipped for {d} (a missing day)" for d in missing]
    now = datetime.now(UTC)  # a stalled shipper is about the present, also in a replay (--as-of)
    for host, state in sorted(hosts.items()):
        age = (now - state.last_run).total_seconds() / 3600
        if age > cfg.stalled_shipper_hours:
            alerts.append(
                f"host {host}'s shipper last ran {age:.0f} hours ago, at {state.last_run.isoformat()} "
                f"(more than {cfg.stalled_shipper_hours:g} hours: stalled)"
            )
        elif state.rows_shipped == 0:
            alerts.append(
                f"host {host}'s shipper ran at {state.last_run.isoformat()} and shipped no row: is its "
                "PREDICTION_LOG the service's, and is the service answering?"
            )
    return alerts
