"""Build a labelled data version from production: scored pairs joined with their recorded outcomes.

Each /rank request the service answered is in the prediction log with its ``prediction_id`` and
the ``lawyer_id`` of every scored lawyer; the backend exports what an intake worker recorded for a
shown (``match_id``, ``lawyer_id``) pair (``npm run export-outcomes``; ``match_id`` is the
service's ``prediction_id``). The join gives rows of the data contract whose features are exactly
what was served and whose ``match`` is the outcome. Pairs without an outcome are left out, never
invented as negatives: a lawyer a client never contacted says nothing about the match.

The command is ``mlops/scripts/collect_feedback.py``. Next: ``dvc add`` the file, ``dvc push``,
commit the ``.dvc`` file; the push runs the workflow.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from ml_model.common import atomic_write_csv
from ml_model.frame_validation import validate_frame
from ml_model.prediction_log import read_prediction_log
from ml_model.schema import COLUMNS, FEATURE_FIELDS, FEATURES, LABEL, SchemaError

log = logging.getLogger(__name__)

OUTCOME_LABELS = {"engaged": 1, "declined": 0, "no_response": 0}


@dataclass
class FeedbackReport:
    """What the join found: every served pair is accounted for, and every dropped row says why."""

    served: int = 0
    with_outcome: int = 0
    without_outcome_yet: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    outcomes_read: int = 0
    outcomes_without_prediction: int = 0
    rows_written: int = 0

    def drop(self, reason: str, n: int) -> None:
        """Count ``n`` rows left out for ``reason`` (zero counts are not recorded)."""
        if n:
            self.dropped[reason] = self.dropped.get(reason, 0) + int(n)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form the command prints."""
        return asdict(self)


def read_outcomes(path: Path) -> pd.DataFrame:
    """The backend's export (JSON Lines): match_id, lawyer_id, outcome, label; errors name the line."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            outcome = rec["outcome"]
            if outcome not in OUTCOME_LABELS:
                raise ValueError(f"unknown outcome {str(outcome)[:40]!r}")
            rows.append(
                {
                    "match_id": str(rec["match_id"]),
                    "lawyer_id": str(rec["lawyer_id"]),
                    "outcome": outcome,
                    "label": OUTCOME_LABELS[outcome],
                }
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise SchemaError(str(path), [f"line {number}: not an outcome record ({exc})"]) from exc
    return pd.DataFrame(rows, columns=["match_id", "lawyer_id", "outcome", "label"])


def known_categories(logged: pd.DataFrame) -> pd.Series:
    """Rows whose every category is in the contract: the service scores unknown ones, so its log
    holds them, but they are no training row and no drift evidence."""
    known = pd.Series(True, index=logged.index)
    for f in FEATURE_FIELDS:
        if f.kind == "category":
            known &= logged[f.name].isin(f.vocab)
    return known


def served_pairs(
    paths: list[Path], since: datetime | None, min_age_days: float, report: FeedbackReport
) -> pd.DataFrame:
    """Scored (prediction_id, lawyer_id) pairs in the window, each once, with the features served."""
    logged = pd.concat([read_prediction_log(p) for p in paths], ignore_index=True)
    logged = logged[logged["prediction_id"].notna() & logged["lawyer_id"].notna()].copy()
    logged["lawyer_id"] = logged["lawyer_id"].astype(str)
    report.served = len(logged)
    when = pd.to_datetime(logged["time"], utc=True)
    latest = datetime.now(UTC) - timedelta(days=min_age_days)
    inside = (when <= latest) & (when >= since if since else True)
    report.drop("outside the window (--since / --min-age-days)", (~inside).sum())
    logged = logged[inside]
    dup = logged.duplicated(["prediction_id", "lawyer_id"], keep="first")
    report.drop("duplicate (same prediction_id and lawyer_id logged twice)", dup.sum())
    logged = logged[~dup]
    known = known_categories(logged)
    report.drop("unknown category (not in the data contract)", (~known).sum())
    return logged[known]


def join(served: pd.DataFrame, outcomes: pd.DataFrame, report: FeedbackReport) -> pd.DataFrame:
    """Rows of the contract for the served pairs that have an outcome; the rest are counted."""
    report.outcomes_read = len(outcomes)
    dup = outcomes.duplicated(["match_id", "lawyer_id"], keep="last")
    report.drop("duplicate outcome records (the last one counts)", dup.sum())
    outcomes = outcomes[~dup]
    merged = served.merge(
        outcomes,
        left_on=["prediction_id", "lawyer_id"],
        right_on=["match_id", "lawyer_id"],
        how="left",
        indicator=True,
    )
    have = merged["_merge"] == "both"
    report.with_outcome = int(have.sum())
    report.without_outcome_yet = int((~have).sum())
    keys = set(zip(served["prediction_id"], served["lawyer_id"], strict=True))
    report.outcomes_without_prediction = sum(
        (m, lw) not in keys for m, lw in zip(outcomes["match_id"], outcomes["lawyer_id"], strict=True)
    )
    rows = merged.loc[have, list(FEATURES)].copy()
    rows[LABEL] = merged.loc[have, "label"].astype("int64").to_numpy()
    return rows[list(COLUMNS)].reset_index(drop=True)


def collect(
    predictions: list[Path],
    outcomes_path: Path,
    out: Path,
    since: datetime | None = None,
    min_age_days: float = 0.0,
) -> FeedbackReport:
    """Join, validate with the production schema, write atomically; returns the report."""
    report = FeedbackReport()
    rows = join(served_pairs(predictions, since, min_age_days, report), read_outcomes(outcomes_path), report)
    if rows.empty:
        raise ValueError(
            f"no served pair in {', '.join(map(str, predictions))} has an outcome in {outcomes_path}"
        )
    dataset = validate_frame(rows, source="the joined feedback")
    atomic_write_csv(dataset, out)
    report.rows_written = len(dataset)
    log.info(
        "Served pairs %d: %d with an outcome, %d without one yet (left out, not negatives).",
        report.served,
        report.with_outcome,
        report.without_outcome_yet,
    )
    for reason, n in report.dropped.items():
        log.info("Dropped %d: %s.", n, reason)
    if report.outcomes_without_prediction:
        log.warning(
            "%d outcome(s) name a pair not in these logs (older, rotated logs?).",
            report.outcomes_without_prediction,
        )
    log.info("Wrote %d rows (positive rate %.3f) to %s.", len(dataset), dataset[LABEL].mean(), out)
    return report
