"""Typed columns for the prediction log's rows, and its lines read from a stream.

``Columns`` accumulates checked lines (``prediction_log_lines.Line``) into arrays, numbers as
numbers and categories as codes, so a window of hundreds of MiB is read in a fraction of that
(BENCHMARKS.md); ``stream_lines`` yields a file's lines with their numbers, a torn last line or an
over-long one marked. The reader (``prediction_log_reader``) drives both.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from datetime import UTC
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from ml_model.prediction_log_lines import MAX_LINE_BYTES, Line
from ml_model.schema import FEATURE_FIELDS


class Columns:
    """Typed accumulators: a float or int64 array per number, int32 codes per category, the
    lawyer ids as the very objects served (one object per distinct id), per-line values once."""

    def __init__(self) -> None:
        self.numbers = {
            f.name: array("q" if f.kind == "int" else "d") for f in FEATURE_FIELDS if f.kind != "category"
        }
        self.codes = {f.name: array("i") for f in FEATURE_FIELDS if f.kind == "category"}
        self.vocab: dict[str, dict[str, int]] = {name: {} for name in self.codes}
        self.probs = array("d")
        self.lawyer_ids: list[Any] = []
        self._ids: dict[Any, Any] = {}
        # per line
        self.counts = array("q")
        self.requests = array("q")
        self.times = array("q")
        self.prediction_ids: list[str | None] = []
        self.model_versions: list[str | None] = []
        self.has_ids = bytearray()

    def append(self, line: Line, request: int) -> int:
        """Add a checked line's instances; returns the line's index."""
        for name, acc in self.numbers.items():
            acc.extend(line.features[name])
        for name, acc in self.codes.items():
            values, table = line.features[name], self.vocab[name]
            for new in set(values).difference(table):
                table[new] = len(table)
            acc.extend(map(table.__getitem__, values))
        self.probs.extend(line.probs)
        if line.lawyer_ids is None:
            self.lawyer_ids.extend([None] * line.n)
        else:
            self.lawyer_ids.extend(map(self._ids.setdefault, line.lawyer_ids, line.lawyer_ids))
        self.counts.append(line.n)
        self.requests.append(request)
        self.times.append(line.time)
        self.prediction_ids.append(line.prediction_id)
        self.model_versions.append(line.model_version)
        self.has_ids.append(line.lawyer_ids is not None)
        return len(self.counts) - 1

    def frame(self, drop_lines: Iterable[int]) -> pd.DataFrame:
        """The DataFrame, without the lines in ``drop_lines``; the accumulators are emptied."""
        counts = np.frombuffer(self.counts, dtype=np.int64) if len(self.counts) else np.zeros(0, np.int64)
        keep_line = np.ones(len(counts), dtype=bool)
        keep_line[list(drop_lines)] = False
        rows = None if keep_line.all() else np.repeat(keep_line, counts)

        def take(values: np.ndarray) -> np.ndarray:
            return values if rows is None else values[rows]

        def per_line(values: list[Any]) -> np.ndarray:
            return take(np.repeat(np.array(values, dtype=object), counts))

        out: dict[str, Any] = {}
        for f in FEATURE_FIELDS:
            if f.kind == "category":
                codes = take(np.frombuffer(self.codes.pop(f.name), dtype=np.int32))
                out[f.name] = pd.Categorical.from_codes(codes, categories=list(self.vocab[f.name]))
            else:
                dtype = np.int64 if f.kind == "int" else np.float64
                out[f.name] = take(np.frombuffer(self.numbers.pop(f.name), dtype=dtype))
        out["match_probability"] = take(np.frombuffer(self.probs, dtype=np.float64))
        codes, versions = pd.factorize(np.array(self.model_versions, dtype=object))  # None: code -1
        out["model_version"] = pd.Categorical.from_codes(take(np.repeat(codes, counts)), categories=versions)
        out["time"] = pd.DatetimeIndex(
            take(np.repeat(np.frombuffer(self.times, dtype=np.int64), counts)).astype("datetime64[us]"),
            tz=UTC,
        )
        out["request"] = take(np.repeat(np.frombuffer(self.requests, dtype=np.int64), counts))
        out["prediction_id"] = per_line(self.prediction_ids)
        ids = np.empty(len(self.lawyer_ids), dtype=object)
        ids[:] = self.lawyer_ids
        self.lawyer_ids = []
        out["lawyer_id"] = take(ids)
        return pd.DataFrame(out, copy=False)


# ---------------------------------------------------------------------------------------------
# Reading


def stream_lines(
    stream: BinaryIO, size: int, limit: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, bytes | None, bool]]:
    """(line number, text, last) for the first ``size`` bytes; text None for a line over ``limit``."""
    number, remaining = 0, size
    while remaining > 0:
        text = stream.readline(min(limit + 1, remaining))
        if not text:
            return
        remaining -= len(text)
        number += 1
        if len(text) > limit and not text.endswith(b"\n"):
            while remaining > 0:  # skip to the end of the line without holding it
                rest = stream.readline(min(1 << 20, remaining))
                remaining -= len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            yield number, None, remaining <= 0
            continue
        yield number, text, remaining <= 0 or not text.endswith(b"\n")
