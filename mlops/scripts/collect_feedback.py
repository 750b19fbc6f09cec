"""Build a labelled data version from production: scored pairs joined with their recorded outcomes.

Each /rank request the service answered is in the prediction log with its ``prediction_id`` and
the ``lawyer_id`` of every scored lawyer; the backend exports what an intake worker recorded for a
shown (``match_id``, ``lawyer_id``) pair (``npm run export-outcomes``; ``match_id`` is the
service's ``prediction_id``). The join gives rows of the data contract whose features are exactly
what was served and whose ``match`` is the outcome. Pairs without an outcome are left out, never
invented as negatives: a lawyer a client never contacted says nothing about the match.

Next: ``dvc add`` the file, ``dvc push``, commit the ``.dvc`` file; the push runs the workflow.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from ml_model.common import atomic_write_csv, exit_script, setup_logging
from ml_model.paths import DATASET
from ml_model.prediction_log import read_prediction_log
from ml_model.schema import COLUMNS, FEATURE_FIELDS, FEATURES, LABEL, SchemaError, validate_frame
from mlops.scripts.utils import run_cli, script_parser

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
            rows.append({"match_id": str(rec["match_id"]), "lawyer_id": str(rec["lawyer_id"]),
                         "outcome": outcome, "label": OUTCOME_LABELS[outcome]})  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise SchemaError(str(path), [f"line {number}: not an outcome record ({exc})"]) from exc
    return pd.DataFrame(rows, columns=["match_id", "lawyer_id", "outcome", "label"])


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
    known = pd.Series(True, index=logged.index)
    for f in FEATURE_FIELDS:
        if f.kind == "category":
            known &= logged[f.name].isin(f.vocab)
    report.drop("unknown category (not in the data contract)", (~known).sum())
    return logged[known]


def join(served: pd.DataFrame, outcomes: pd.DataFrame, report: FeedbackReport) -> pd.DataFrame:
    """Rows of the contract for the served pairs that have an outcome; the rest are counted."""
    report.outcomes_read = len(outcomes)
    dup = outcomes.duplicated(["match_id", "lawyer_id"], keep="last")
    report.drop("duplicate outcome records (the last one counts)", dup.sum())
    outcomes = outcomes[~dup]
    merged = served.merge(outcomes, left_on=["prediction_id", "lawyer_id"], right_on=["match_id", "lawyer_id"],
                          how="left", indicator=True)  # fmt: skip
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
) -> dict[str, Any]:
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
    log.info("Served pairs %d: %d with an outcome, %d without one yet (left out, not negatives).",
             report.served, report.with_outcome, report.without_outcome_yet)  # fmt: skip
    for reason, n in report.dropped.items():
        log.info("Dropped %d: %s.", n, reason)
    if report.outcomes_without_prediction:
        log.warning(
            "%d outcome(s) name a pair not in these logs (older, rotated logs?).",
            report.outcomes_without_prediction,
        )
    log.info("Wrote %d rows (positive rate %.3f) to %s.", len(dataset), dataset[LABEL].mean(), out)
    return asdict(report)


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run; exit 2 on bad input, with the file and line or field named."""
    parser = script_parser(__doc__, data=False, params_help=None)
    parser.add_argument(
        "--predictions", type=Path, nargs="+", required=True, help="prediction log(s) (.jsonl)"
    )
    parser.add_argument("--outcomes", type=Path, required=True, help="the backend's export (JSON Lines)")
    parser.add_argument("--out", type=Path, default=DATASET, help="the labelled CSV to write")
    parser.add_argument("--since", type=_time, help="only pairs served at or after this ISO time")
    parser.add_argument(
        "--min-age-days", type=float, default=0.0, help="only pairs served at least this long ago"
    )
    args = parser.parse_args(argv)
    setup_logging()
    code, report = run_cli(
        "collect feedback", collect, args.predictions, args.outcomes, args.out, args.since, args.min_age_days
    )
    if report:
        print(json.dumps(report, indent=2))
    return code


if __name__ == "__main__":
    exit_script(main())
