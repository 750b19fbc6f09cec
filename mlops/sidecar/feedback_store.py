"""A labelled data version from the log store: its served pairs and the outcome exports put into it.

The same join as from a host's own log files (``feedback.py``), on the rows the shippers
de-duplicated (``logstore``), read one day at a time; the scheduled workflow builds its data
version this way (``collect_feedback.py --store``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ml_model.prediction_log_reader import LogScan
from ml_model.schema import FEATURES
from mlops.sidecar.feedback import FeedbackReport, join_logged, log_report, write_labelled


def store_rows(store: Any, since: datetime | None) -> pd.DataFrame:
    """Every served pair in the log store (from ``since``'s day on), one day read at a time."""
    days = [d for d in store.days() if since is None or d >= since.date()]
    frames = [store.read_day(d, [*FEATURES, "prediction_id", "lawyer_id", "time"]) for d in days]
    if not frames:
        raise ValueError(
            f"the log store {store} holds no served pair{'' if since is None else ' since ' + str(since)}"
        )
    return pd.concat(frames, ignore_index=True)


def collect_from_store(
    store: Any, out: Path, since: datetime | None = None, min_age_days: float = 0.0
) -> FeedbackReport:
    """``collect`` on the log store: its served pairs and every outcome export put into it."""
    report = FeedbackReport()
    rows = join_logged(store_rows(store, since), LogScan(), store.outcomes(), since, min_age_days, report)
    log_report(report, Path(str(store)), [Path(str(store))])
    return write_labelled(rows, report, out)
