"""The rows of the store: the reader's typed frame as one Arrow schema, split by UTC day.

A row is one scored instance: the features (numbers as int64/float64, categories as dictionary
strings), ``match_probability``, ``model_version``, ``time`` (ms, UTC), ``prediction_id``,
``lawyer_id`` (text, ``lawyer_key``; null for /predict lines), ``position`` (the instance's index
in its line) and ``host``. ``(prediction_id, position)`` names a row: a copy shipped twice is
recognised by it, on shipping and on reading.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ml_model.prediction_log_lines import lawyer_key
from ml_model.schema import FEATURE_FIELDS

TEXT = pa.dictionary(pa.int32(), pa.string())
TIME = pa.timestamp("ms", tz="UTC")
SCHEMA = pa.schema(
    [
        *(
            pa.field(
                f.name, TEXT if f.kind == "category" else pa.int64() if f.kind == "int" else pa.float64()
            )
            for f in FEATURE_FIELDS
        ),
        pa.field("match_probability", pa.float64()),
        pa.field("model_version", TEXT),
        pa.field("time", TIME),
        pa.field("prediction_id", pa.string()),
        pa.field("lawyer_id", pa.string()),
        pa.field("position", pa.int32()),
        pa.field("host", TEXT),
    ]
)
COLUMNS = tuple(SCHEMA.names)
KEY = ("prediction_id", "position")
MS_PER_DAY = 86_400_000
_EPOCH = date(1970, 1, 1)


def _text(values: pd.Series) -> pa.Array:
    """A categorical column as dictionary text (its codes kept, no string per row built)."""
    cat = values.cat
    codes = cat.codes.to_numpy().astype(np.int32)
    return pa.DictionaryArray.from_arrays(
        pa.array(codes, mask=codes < 0), pa.array([str(c) for c in cat.categories], pa.string())
    )


def positions(requests: np.ndarray) -> np.ndarray:
    """Each row's index within its line (rows of one line are consecutive and share ``request``)."""
    n = len(requests)
    if not n:
        return np.zeros(0, np.int32)
    starts = np.flatnonzero(np.r_[True, requests[1:] != requests[:-1]])
    return (np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))).astype(np.int32)


def frame_to_table(frame: pd.DataFrame, host: str) -> pa.Table:
    """``scan_prediction_logs``'s frame (without ``request``) as the store's table."""
    cols: dict[str, pa.Array] = {}
    for f in FEATURE_FIELDS:
        if f.kind == "category":
            cols[f.name] = _text(frame[f.name].astype("category"))
        else:
            cols[f.name] = pa.array(frame[f.name].to_numpy(), SCHEMA.field(f.name).type)
    cols["match_probability"] = pa.array(frame["match_probability"].to_numpy(np.float64))
    cols["model_version"] = _text(frame["model_version"].astype("category"))
    micros = pd.DatetimeIndex(frame["time"]).as_unit("us").asi8
    cols["time"] = pa.array(np.floor_divide(micros, 1000), TIME)
    cols["prediction_id"] = pa.array(frame["prediction_id"].to_numpy(), pa.string())
    ids = frame["lawyer_id"].to_numpy()
    cols["lawyer_id"] = pa.array([None if v is None else lawyer_key(v) for v in ids], pa.string())
    cols["position"] = pa.array(positions(frame["request"].to_numpy()), pa.int32())
    cols["host"] = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(len(frame), np.int32)), pa.array([host], pa.string())
    )
    return pa.table(cols, schema=SCHEMA)


def by_day(table: pa.Table) -> Iterator[tuple[date, pa.Table]]:
    """The table's rows of each UTC day of their ``time``, days in order, rows in their order."""
    ms = table.column("time").cast(pa.int64()).to_numpy(zero_copy_only=False)
    days = np.floor_divide(ms, MS_PER_DAY)
    for number in np.unique(days):
        yield _EPOCH + timedelta(days=int(number)), table.take(np.flatnonzero(days == number))


def keys(table: pa.Table) -> pd.MultiIndex:
    """The (prediction_id, position) of each row that has a prediction_id."""
    frame = table.select(list(KEY)).to_pandas()
    frame = frame[frame["prediction_id"].notna()]
    return pd.MultiIndex.from_frame(frame)


def without(table: pa.Table, known: pd.MultiIndex) -> pa.Table:
    """``table`` without the rows whose key is in ``known`` (rows without a prediction_id stay)."""
    if not len(known) or not table.num_rows:
        return table
    frame = table.select(list(KEY)).to_pandas()
    seen = pd.MultiIndex.from_frame(frame).isin(known) & frame["prediction_id"].notna().to_numpy()
    return table.filter(pa.array(~seen)) if seen.any() else table


def to_parquet(table: pa.Table) -> bytes:
    """One part's bytes (zstd; dictionaries and statistics as Parquet keeps them)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()
