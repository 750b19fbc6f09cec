"""What both request paths score with: the model holder, the prediction log and the metrics.

Scoring is a NumPy forward pass over the verified artifacts (see ``artifacts.FastScorer``), so
TensorFlow is never imported here. A category the model does not know is scored with its
one-hot group all zero and named in the answer's warnings.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ml_model.artifacts import LoadedModel
from ml_model.model_holder import ModelHolder
from ml_model.paths import DEFAULT_PREDICTION_LOG, ML_MODEL_DIR
from ml_model.prediction_log import LogEntry, PredictionLog
from ml_model.schema import FIELDS_BY_NAME, MAX_ERRORS, SHORT_REPR_CHARS, short_repr
from ml_model.service_metrics import ServiceMetrics

log = logging.getLogger(__name__)


class Scored(NamedTuple):
    """One request's scores, with everything its response and its log line need."""

    model: LoadedModel
    prediction_id: str
    scores: np.ndarray
    probs: list[float]
    entry: LogEntry
    warnings: list[dict[str, Any]]  # the first MAX_ERRORS unknown categories
    warning_count: int  # all of them


_NO_WARNINGS: list[dict[str, Any]] = []


def _close_match(value: str, vocab: tuple[str, ...]) -> str | None:
    """The known value that ``value`` differs from only in case or surrounding spaces ("Family ")."""
    folded = value.strip().casefold()
    return next((v for v in vocab if v.casefold() == folded), None)


def _warning(location: str, index: int | None, name: str, value: str) -> dict[str, Any]:
    """One unknown category as the response names it: where, which field, a prefix of the value."""
    vocab = FIELDS_BY_NAME[name].vocab
    close = _close_match(value, vocab)
    hint = f" (did you mean {close!r}?)" if close else f" (known: {', '.join(vocab)})"
    message = f"unknown value {short_repr(value)} in field '{name}', scored with the field ignored{hint}"
    prefix = value if len(value) <= SHORT_REPR_CHARS else value[:SHORT_REPR_CHARS] + "…"
    return {"location": location, "index": index, "field": name, "value": prefix, "message": message}


def category_warnings(
    cols: dict[str, np.ndarray],
    fields: list[str],
    known: dict[str, dict[str, int]],
    constant: frozenset[str],
    location: str,
) -> tuple[list[dict[str, Any]], int]:
    """The warnings for the categories the model does not know (only called when there are some):
    a constant (/rank case) field once, then each row's fields in input order; MAX_ERRORS at most,
    and the count of all. The service scores them with that one-hot group all zero and does not
    guess: "Family" is not silently read as "family", but the warning suggests it."""
    found: list[tuple[str, int | None, str, str]] = []
    per_row: list[tuple[int, int, str, str]] = []
    for order, name in enumerate(n for n in FIELDS_BY_NAME if n in fields):
        index = known[name]
        if name in constant:
            found.append(("case", None, name, str(cols[name][0])))
            continue
        per_row.extend((r, order, name, v) for r, v in enumerate(cols[name].tolist()) if v not in index)
    per_row.sort()
    total = len(found) + len(per_row)
    found.extend((location, r, name, v) for r, _, name, v in per_row[: MAX_ERRORS - len(found)])
    return [_warning(*w) for w in found[:MAX_ERRORS]], total


class MatchService:
    """What the routes need: the model holder, the prediction log and the metrics. The app
    factory takes one, so a test can hand the service any model it likes."""

    def __init__(
        self, holder: ModelHolder, prediction_log: PredictionLog, metrics: ServiceMetrics | None = None
    ) -> None:
        self.holder = holder
        self.prediction_log = prediction_log
        self.metrics = metrics or ServiceMetrics()
        self.metrics.serving(holder.model.version)

    @classmethod
    def from_env(
        cls, model_dir: str | Path | None = None, prediction_log: str | Path | None = None
    ) -> MatchService:
        """Defaults from MODEL_DIR and PREDICTION_LOG, else ``ml_model/`` and ``logs/predictions.jsonl``
        (rotation from PREDICTION_LOG_MAX_BYTES and PREDICTION_LOG_KEEP)."""
        model_dir = Path(model_dir or os.environ.get("MODEL_DIR") or ML_MODEL_DIR)
        log_path = Path(prediction_log or os.environ.get("PREDICTION_LOG") or DEFAULT_PREDICTION_LOG)
        return cls(ModelHolder(model_dir), PredictionLog(log_path))

    def current_model(self) -> LoadedModel:
        """The model to answer with (reloaded if a promotion replaced it), named in the metrics."""
        model = self.holder.current()
        if model.version != self.metrics.model_version:
            self.metrics.serving(model.version)
        return model

    def score(
        self,
        cols: dict[str, np.ndarray],
        n: int,
        lawyer_ids: list[Any] | None = None,
        constant: frozenset[str] = frozenset(),
        location: str = "instances",
    ) -> Scored:
        """Probabilities for ``n`` validated rows, the request's prediction id, its warnings (rows
        ``location[i]`` with unknown categories) and its log entry (written once the response is
        sent, by ``log_writer``)."""
        model = self.current_model()  # one reference for the whole request, even across a reload
        x, unknown, fields = model.scorer.design_checked(cols, n, constant)
        scores = model.scorer.forward(x)
        if not np.isfinite(scores).all():  # cannot happen within the schema's bounds; never answer NaN
            raise RuntimeError(f"model {model.version} produced a non-finite probability")
        self.metrics.scored(n, len(unknown))
        warnings, warning_count = _NO_WARNINGS, 0
        if len(unknown):
            log.warning(
                "%d instance(s) (first: %s) have unknown categories in %s; scored with them ignored.",
                len(unknown),
                unknown[:10].tolist(),
                sorted(fields),
            )
            known = dict(model.scorer.offsets)
            warnings, warning_count = category_warnings(cols, fields, known, constant, location)
        prediction_id = uuid.uuid4().hex  # what an outcome later refers to (with the lawyer_id)
        entry = LogEntry(model.version, time.time(), cols, scores, prediction_id, lawyer_ids)
        return Scored(model, prediction_id, scores, scores.tolist(), entry, warnings, warning_count)

    def log_writer(self, scored: Scored) -> Callable[[], None]:
        """What writes this request's log line (and counts a failure), for after the response:
        only a response that was built is logged, and the client has it before the line is formatted."""
        plog, failures, entry = self.prediction_log, self.metrics.log_failures, scored.entry

        def write_log_line() -> None:
            if not plog.write(entry):
                failures.inc()

        return write_log_line
