"""Build a labelled data version from production: scored pairs joined with their recorded outcomes.

Each /rank request the service answered is in the prediction log with its ``prediction_id`` and
the ``lawyer_id`` of every scored lawyer; the backend exports what an intake worker recorded for a
shown (``match_id``, ``lawyer_id``) pair (``npm run export-outcomes``; ``match_id`` is the
service's ``prediction_id``). The join gives rows of the data contract whose features are exactly
what was served and whose ``match`` is the outcome. Pairs without an outcome are left out, never
invented as negatives: a lawyer a client never contacted says nothing about the match. /predict
lines in the same log carry no lawyer id and are counted, not joined. A pair whose log copies
disagree is dropped, never guessed (``prediction_log_reader``), and outcomes that join nothing
are a warning, not a silent empty result.

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

import numpy as np
import pandas as pd

from ml_model.common import atomic_write_csv
from ml_model.frame_validation import validate_frame
from ml_model.prediction_log_lines import lawyer_key
from ml_model.prediction_log_reader import LogScan, scan_prediction_logs
from ml_model.schema import COLUMNS, FEATURE_FIELDS, FEATURES, LABEL, MAX_LAWYER_ID, SchemaError

log = logging.getLogger(__name__)

OUTCOME_LABELS = {"engaged": 1, "declined": 0, "no_response": 0}

DUPLICATE = "duplicate (same prediction_id and lawyer_id logged twice)"
CONFLICT = "conflict (one prediction_id or lawyer logged with different features: every copy dropped)"
OUTSIDE = "outside the window (--since / --min-age-days)"
UNKNOWN = "unknown category (not in the data contract)"
DUPLICATE_OUTCOME = "duplicate outcome records (the last one counts)"


@dataclass
class FeedbackReport:
    """What the join found: every served pair is accounted for, and every dropped row says why.

    ``served`` counts the (prediction_id, lawyer_id) pairs read, copies included; each is then
    with an outcome, without one yet, or dropped for a reason in ``dropped``. Every outcome read
    is joined, names a pair the log holds but that was dropped, or names no pair in these logs.
    """

    served: int = 0
    with_outcome: int = 0
    without_outcome_yet: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    outcomes_read: int = 0
    outcomes_of_dropped_pairs: int = 0
    outcomes_without_prediction: int = 0
    instances_without_lawyer_id: int = 0  # /predict lines: no outcome can name them
    bad_log_lines: int = 0  # skipped and named in warnings (file, line, field)
    rows_written: int = 0

    def drop(self, reason: str, n: int) -> None:
        """Count ``n`` rows left out for ``reason`` (zero counts are not recorded)."""
        if n:
            self.dropped[reason] = self.dropped.get(reason, 0) + int(n)

    @property
    def nothing_joined(self) -> bool:
        """Outcomes exist but none joins a served pair: every label would be lost."""
        return self.outcomes_read > 0 and self.with_outcome == 0

    def labels(self) -> dict[str, Any]:
        """How many outcomes became labels, for a person first: ``"0 joined of 12"``."""
        return {
            "summary": f"{self.with_outcome} joined of {self.outcomes_read}",
            "joined": self.with_outcome,
            "outcomes": self.outcomes_read,
            "served_pairs": self.served,
        }

    def as_dict(self) -> dict[str, Any]:
        """The JSON form the command prints."""
        return {"labels": self.labels()["summary"], **asdict(self)}


def _outcome_lawyer(value: Any) -> str:
    """An outcome's lawyer id as the join key: as served, a string or an integer (10.0 is 10)."""
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is int and 0 <= value < MAX_LAWYER_ID:
        return lawyer_key(value)
    if type(value) is str and value:
        return value
    raise ValueError(f"lawyer_id must be text or an integer in [0, 2**53), got {type(value).__name__}")


def read_outcomes(path: Path) -> pd.DataFrame:
    """The backend's export (JSON Lines): match_id, lawyer_id (the join key, ``lawyer_key``),
    outcome, label, recorded_at (None when absent); errors name the line."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if type(rec) is not dict:
                raise TypeError("not a JSON object")
            outcome, match_id = rec["outcome"], rec["match_id"]
            if outcome not in OUTCOME_LABELS:
                raise ValueError(f"unknown outcome {str(outcome)[:40]!r}")
            if type(match_id) is not str or not match_id:
                raise ValueError("match_id must be text")
            rows.append(
                {
                    "match_id": match_id,
                    "lawyer_id": _outcome_lawyer(rec["lawyer_id"]),
                    "outcome": outcome,
                    "label": OUTCOME_LABELS[outcome],
                    # when it was recorded (the daily monitor's "as of"); older exports lack it
                    "recorded_at": rec.get("recorded_at") if type(rec.get("recorded_at")) is str else None,
                }
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise SchemaError(str(path), [f"line {number}: not an outcome record ({exc})"]) from exc
    return pd.DataFrame(rows, columns=["match_id", "lawyer_id", "outcome", "label", "recorded_at"])


def known_categories(logged: pd.DataFrame) -> pd.Series:
    """Rows whose every category is in the contract: the service scores unknown ones, so its log
    holds them, but they are no training row and no drift evidence."""
    known = pd.Series(True, index=logged.index)
    for f in FEATURE_FIELDS:
        if f.kind == "category":
            known &= logged[f.name].isin(f.vocab)
    return known


def _in_window(when: pd.Series, since: datetime | None, min_age_days: float) -> np.ndarray | None:
    """Which rows were served inside the window; None when no window was asked for."""
    if since is None and not min_age_days:
        return None
    inside = np.ones(len(when), dtype=bool)
    if min_age_days:
        inside &= (when <= datetime.now(UTC) - timedelta(days=min_age_days)).to_numpy()
    if since is not None:
        inside &= (when >= since).to_numpy()
    return inside


def join_outcomes(
    paths: list[Path],
    outcomes: pd.DataFrame,
    since: datetime | None,
    min_age_days: float,
    report: FeedbackReport,
) -> pd.DataFrame:
    """Rows of the contract for the served pairs that have an outcome; everything else is counted.

    The log is read once into typed columns (``scan_prediction_logs``); the drop reasons are
    counted on masks over it, and only the rows an outcome names are copied out, so memory
    stays that of the typed columns. Lawyer ids are joined as the values served, never through
    a float column (where 10 became "10.0" as soon as one /predict line sat in the log).
    """
    logged, scan = scan_prediction_logs(paths)
    return join_logged(logged, scan, outcomes, since, min_age_days, report)


def join_logged(
    logged: pd.DataFrame,
    scan: LogScan,
    outcomes: pd.DataFrame,
    since: datetime | None,
    min_age_days: float,
    report: FeedbackReport,
) -> pd.DataFrame:
    """``join_outcomes`` on served pairs already read: from the log files, or from the log store
    (``collect_from_store``), whose rows the shipper de-duplicated (an empty ``LogScan``)."""
    report.bad_log_lines = scan.bad_lines
    pairs = logged["lawyer_id"].notna().to_numpy()
    report.instances_without_lawyer_id = int((~pairs).sum())
    report.served = int(pairs.sum()) + scan.duplicate_pairs + scan.conflict_pairs
    report.drop(DUPLICATE, scan.duplicate_pairs)
    report.drop(CONFLICT, scan.conflict_pairs)
    usable = pairs.copy()
    inside = _in_window(logged["time"], since, min_age_days)
    if inside is not None:
        report.drop(OUTSIDE, (usable & ~inside).sum())
        usable &= inside
    known = known_categories(logged).to_numpy()
    report.drop(UNKNOWN, (usable & ~known).sum())
    usable &= known

    report.outcomes_read = len(outcomes)
    dup = outcomes.duplicated(["match_id", "lawyer_id"], keep="last")
    report.drop(DUPLICATE_OUTCOME, dup.sum())
    outcomes = outcomes[~dup]
    named = pairs & logged["prediction_id"].isin(set(outcomes["match_id"])).to_numpy()
    candidates = logged[named]  # rows first (few), then columns: never a copy of the whole log
    del logged
    candidates = candidates[[*FEATURES, "prediction_id"]].assign(
        lawyer_key=candidates["lawyer_id"].map(lawyer_key), usable=usable[named]
    )
    merged = outcomes.merge(
        candidates,
        left_on=["match_id", "lawyer_id"],
        right_on=["prediction_id", "lawyer_key"],
        how="left",
        indicator=True,
    )
    in_log = (merged["_merge"] == "both").to_numpy()
    have = in_log & merged["usable"].eq(True).to_numpy()
    dropped_ids = scan.conflict_ids | scan.bad_ids  # requests the reader dropped whole
    dropped_by_reader = np.fromiter(
        (
            m in dropped_ids or (m, k) in scan.conflict_pair_keys
            for m, k in zip(merged["match_id"], merged["lawyer_id"], strict=True)
        ),
        dtype=bool,
        count=len(merged),
    )
    report.with_outcome = int(have.sum())
    report.without_outcome_yet = int(usable.sum()) - report.with_outcome
    report.outcomes_of_dropped_pairs = int((in_log & ~have).sum() + (~in_log & dropped_by_reader).sum())
    report.outcomes_without_prediction = int((~in_log & ~dropped_by_reader).sum())
    rows = merged.loc[have, list(FEATURES)].copy()
    rows[LABEL] = merged.loc[have, "label"].astype("int64").to_numpy()
    return rows[list(COLUMNS)].reset_index(drop=True)


def log_report(report: FeedbackReport, outcomes_path: Path, predictions: list[Path]) -> None:
    """What the join found, in the log: counts at INFO, anything lost at WARNING."""
    log.info(
        "Served pairs %d: %d with an outcome, %d without one yet (left out, not negatives).",
        report.served,
        report.with_outcome,
        report.without_outcome_yet,
    )
    for reason, n in report.dropped.items():
        log.info("Dropped %d: %s.", n, reason)
    if report.instances_without_lawyer_id:
        log.info(
            "%d instance(s) carry no lawyer id (/predict): no outcome can name them.",
            report.instances_without_lawyer_id,
        )
    if report.bad_log_lines:
        log.warning("%d bad log line(s) were skipped (named above).", report.bad_log_lines)
    if report.outcomes_of_dropped_pairs:
        log.warning(
            "%d outcome(s) name a pair that was dropped for a reason above (or a bad log line).",
            report.outcomes_of_dropped_pairs,
        )
    if report.outcomes_without_prediction:
        log.warning(
            "%d outcome(s) name a pair not in these logs (older, rotated logs?).",
            report.outcomes_without_prediction,
        )
    if report.nothing_joined:
        log.warning(
            "Labels: %s. None of the outcomes in %s joins a served pair in %s.",
            report.labels()["summary"],
            outcomes_path,
            ", ".join(map(str, predictions)),
        )


def write_labelled(rows: pd.DataFrame, report: FeedbackReport, out: Path) -> FeedbackReport:
    """Validate with the production schema and write atomically; nothing at all without a row."""
    if rows.empty:
        log.warning("No labelled row: nothing written, %s left as it was.", out)
        return report
    dataset = validate_frame(rows, source="the joined feedback")
    atomic_write_csv(dataset, out)
    report.rows_written = len(dataset)
    log.info("Wrote %d rows (positive rate %.3f) to %s.", len(dataset), dataset[LABEL].mean(), out)
    return report


def collect(
    predictions: list[Path],
    outcomes_path: Path,
    out: Path,
    since: datetime | None = None,
    min_age_days: float = 0.0,
) -> FeedbackReport:
    """Join, validate with the production schema, write atomically; returns the report.

    When no pair has an outcome nothing is written (the previous file stays) and the report
    says so (``nothing_joined``; the command's ``--strict`` makes it an error)."""
    report = FeedbackReport()
    outcomes = read_outcomes(outcomes_path)
    rows = join_outcomes(predictions, outcomes, since, min_age_days, report)
    log_report(report, outcomes_path, predictions)
    return write_labelled(rows, report, out)
