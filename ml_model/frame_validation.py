"""Tables against the contract: a CSV file or a DataFrame, checked column by column.

Training, evaluation, the simulator and the sidecar read their data through here, so a file
that breaks ``ml_model/schema.py`` is refused with every problem named (column, row, value)
before any model sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml_model.schema import COLUMNS, FEATURES, FIELDS_BY_NAME, Field, SchemaError

Report = Callable[[np.ndarray, str], None]  # report(mask, what): the rows in ``mask`` have problem ``what``
EXAMPLES_PER_CHECK = 5  # rows quoted for each kind of problem in a column; the true count always follows


def plain(value: Any, limit: int = 40) -> str:
    """A value as a person reads it: numpy scalars as plain numbers, long text cut to a prefix."""
    if isinstance(value, np.generic):
        value = value.item()
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _column_problems(field: Field, values: pd.Series) -> list[str]:
    """Every bad value of one column, with its data row (1-based, header excluded)."""
    problems: list[str] = []

    def report(mask: np.ndarray, what: str) -> None:
        rows = np.flatnonzero(mask)
        for idx in rows[:EXAMPLES_PER_CHECK]:
            problems.append(f"column '{field.name}', row {idx + 1}: {what} (value {plain(values.iloc[idx])})")
        if len(rows) > EXAMPLES_PER_CHECK:
            share = len(rows) / max(len(values), 1)
            problems.append(f"column '{field.name}': {len(rows)} rows in all ({share:.0%}): {what}")

    missing = values.isna().to_numpy()
    report(missing, "missing value")
    if field.kind == "category":
        as_text = values.astype("string")
        report(~missing & ~as_text.isin(field.vocab).fillna(False).to_numpy(), f"not {field.describe()}")
    elif values.dtype == bool:
        report(np.ones(len(values), dtype=bool), f"not {field.describe()} (a true/false value)")
    else:
        _number_problems(field, values, missing, report)
    return problems


def _number_problems(field: Field, values: pd.Series, missing: np.ndarray, report: Report) -> None:
    """Report the values of a numeric column that are not numbers, not finite or out of range."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    not_number = ~missing & np.isnan(numbers)
    report(not_number, f"not {field.describe()}")
    ok = ~missing & ~not_number
    report(ok & np.isinf(numbers), "infinite value")
    finite = ok & np.isfinite(numbers)
    if field.kind == "int":
        report(finite & (numbers != np.round(numbers)), "not an integer")
    if field.min is not None:
        report(finite & (numbers < field.min), f"below the minimum {field.min:g}")
    if field.max is not None:
        report(finite & (numbers > field.max), f"above the maximum {field.max:g}")


def _column_set_problems(cols: list[Any], require_label: bool) -> list[str]:
    """Missing, unexpected or (for labelled data) reordered columns."""
    expected = COLUMNS if require_label else FEATURES
    allowed = set(COLUMNS) if not require_label else set(expected)
    missing = [c for c in expected if c not in cols]
    extra = [c for c in cols if c not in allowed]
    problems: list[str] = []
    if missing:
        problems.append("missing column(s): " + ", ".join(missing))
    if extra:
        problems.append("unexpected column(s): " + ", ".join(map(str, extra)))
    if not missing and not extra and require_label and cols != list(expected):
        problems.append("columns out of order: expected " + ", ".join(expected))
    return problems


def validate_frame(df: pd.DataFrame, source: str = "data", require_label: bool = True) -> pd.DataFrame:
    """Check a whole table against the contract and return it with canonical dtypes.

    Every problem is collected before raising, so a user fixes a file in one pass.
    """
    cols = list(df.columns)
    problems = _column_set_problems(cols, require_label)
    if problems:
        raise SchemaError(source, problems)
    if len(df) == 0:
        raise SchemaError(source, ["no data rows"])
    for name in cols:
        problems.extend(_column_problems(FIELDS_BY_NAME[name], df[name]))
    if problems:
        raise SchemaError(source, problems)
    out = pd.DataFrame(index=df.index)
    for name in cols:
        field = FIELDS_BY_NAME[name]
        if field.kind == "category":
            out[name] = df[name].astype(str)
        elif field.kind == "int":
            out[name] = pd.to_numeric(df[name]).astype(np.int64)
        else:
            out[name] = pd.to_numeric(df[name]).astype(np.float64)
    return out


def read_dataset(path: str | Path, require_label: bool = True) -> pd.DataFrame:
    """Read and validate a CSV of the contract; errors name the file, column and row."""
    path = Path(path)
    if not path.is_file():
        raise SchemaError(str(path), ["file not found"])
    try:
        # Types are inferred (faster than reading everything as text); a bad value turns its
        # column into text, and validate_frame then reports it with its row.
        df = pd.read_csv(path, low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SchemaError(str(path), [f"not a readable CSV file ({exc.__class__.__name__}: {exc})"]) from exc
    return validate_frame(df, source=str(path), require_label=require_label)
