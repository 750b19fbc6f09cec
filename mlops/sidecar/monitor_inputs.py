"""What the monitor compares: the training snapshot against what the model sees now.

Reference: ``ml_model/matchmaking_dataset.csv``. Current: the service's prediction log when it
exists, else the newest ``mlops/data`` version. Both are validated by production's schema; the
current side is sampled down (seeded) so the verdict is the same at any size.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml_model.frame_validation import read_dataset, validate_frame
from ml_model.paths import DEFAULT_PREDICTION_LOG
from ml_model.prediction_log import read_prediction_log
from ml_model.schema import FEATURES, LABEL, SchemaError
from mlops.paths import DATASET
from mlops.sidecar.config import MonitorConfig
from mlops.sidecar.feedback import FeedbackReport, join_outcomes, known_categories, read_outcomes

log = logging.getLogger(__name__)


def one_per_request(request: np.ndarray, keep: np.ndarray, seed: int) -> np.ndarray:
    """Positions of one row per request among the ``keep`` rows, drawn uniformly (seeded), in log order.

    Plain numpy over the ``request`` column, never a copy of the frame: on the default 600 MiB
    window ``logged.loc[known]`` and ``groupby("request").sample(n=1)`` added about 1.4 GiB to the
    reader's 709 MiB (BENCHMARKS.md, "Reading the prediction log"); this holds two integer arrays.
    The reader numbers requests in log order, so they are usually sorted; any other order is
    sorted first (stably), so the result does not depend on it.
    """
    req = request[keep]
    if len(req) == 0:
        return np.zeros(0, dtype=np.int64)
    order = None
    if not (req[1:] >= req[:-1]).all():
        order = np.argsort(req, kind="stable")
        req = req[order]
    starts = np.flatnonzero(np.concatenate(([True], req[1:] != req[:-1])))
    del req
    sizes = np.diff(np.append(starts, int(keep.sum())))
    pick = starts + np.random.default_rng(seed).integers(0, sizes)
    if order is not None:
        pick = np.sort(order[pick])  # back to positions among the kept rows, in log order
    return np.flatnonzero(keep)[pick]


def load_current(path: Path, seed: int = 0) -> tuple[pd.DataFrame, int]:
    """A CSV of the contract (labels optional) or a prediction log (.jsonl); and its unknown rows.

    The service scores unknown categories, so the log may hold them: those rows are counted and
    left out of the drift tests (they are reported, not silently dropped). A /rank request logs one
    case beside many lawyers; so that one case does not weigh as much as a thousand, the monitor
    draws one scored pair per request (seeded, ``one_per_request``), and only those rows are copied
    out of the log (one ``take``). A CSV must be clean and is used as it is.
    """
    if path.suffix != ".jsonl":
        return read_dataset(path, require_label=False), 0
    try:
        logged = read_prediction_log(path)
    except (OSError, ValueError) as exc:
        raise SchemaError(str(path), [str(exc)]) from exc
    known = known_categories(logged).to_numpy()
    rows = one_per_request(logged["request"].to_numpy(), known, seed)
    unknown = len(known) - int(known.sum())
    if len(rows) == 0:
        raise SchemaError(
            str(path), [f"every one of the {unknown:,} logged instances has an unknown category"]
        )
    picked = logged.take(rows)[list(FEATURES)].reset_index(drop=True)
    del logged
    return validate_frame(picked, str(path), False), unknown


def default_current() -> Path:
    """What the service saw, if it has logged anything; else the newest data version."""
    return DEFAULT_PREDICTION_LOG if DEFAULT_PREDICTION_LOG.is_file() else DATASET


@dataclass(frozen=True)
class Observed:
    """The two samples the drift tests compare, with what was set aside on the way."""

    reference: pd.DataFrame
    current: pd.DataFrame
    rows_in: int  # current rows before sampling down
    unknown_rows: int  # logged instances with categories the model does not know
    labelled: pd.DataFrame | None = None  # current rows with an outcome, for quality
    labels: dict[str, Any] | None = None  # with --outcomes: how many outcomes joined (FeedbackReport.labels)

    @property
    def labelled_are_tested(self) -> bool:
        """The labelled rows are the drift tests' own rows (a labelled CSV), so one report holds both."""
        return self.labelled is self.current


def labelled_rows(
    current: pd.DataFrame, current_path: Path, outcomes: Path | None
) -> tuple[pd.DataFrame | None, dict[str, Any] | None]:
    """Labelled current rows: a labelled CSV as it is, or a prediction log joined with outcomes
    (the same join as collect_feedback, without a window); and, with outcomes, how many joined.
    Outcomes that join nothing are a warning: quality would silently be missing."""
    if outcomes is None:
        return (current if LABEL in current.columns else None), None
    if current_path.suffix != ".jsonl":
        raise ValueError(f"--outcomes goes with a prediction log (.jsonl), not {current_path}")
    report = FeedbackReport()
    rows = join_outcomes([current_path], read_outcomes(outcomes), None, 0.0, report)
    labels = report.labels()
    if report.nothing_joined:
        log.warning(
            "Labels: %s. None of the outcomes in %s joins a served pair of %s (%d outcome(s) name a "
            "pair not in the log, %d a dropped one): no production quality.",
            labels["summary"],
            outcomes,
            current_path,
            report.outcomes_without_prediction,
            report.outcomes_of_dropped_pairs,
        )
    else:
        log.info(
            "Labels: %s; %d of %d served pairs have an outcome; quality is measured on those.",
            labels["summary"],
            len(rows),
            report.served,
        )
    return (rows if len(rows) else None), labels


def load_observed(
    reference_path: Path, current_path: Path, cfg: MonitorConfig, outcomes: Path | None = None
) -> Observed:
    """Read both sides; sample the current side down to ``max_rows`` (seeded) so the verdict is stable."""
    reference = read_dataset(reference_path)
    current, unknown_rows = load_current(current_path, cfg.seed)
    rows_in = len(current)
    if rows_in > cfg.max_rows:
        current = current.sample(cfg.max_rows, random_state=cfg.seed).reset_index(drop=True)
        log.info(
            "Sampled %d of %d current rows (seed %d) for the drift tests.", len(current), rows_in, cfg.seed
        )
    # a labelled CSV: quality on the same (sampled) rows as the drift tests, so the report carries both
    labelled, labels = labelled_rows(current, current_path, outcomes)
    return Observed(reference, current, rows_in, unknown_rows, labelled, labels)
