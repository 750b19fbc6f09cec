"""Search artifacts for data rows: the bar that keeps clients' cases out of what we share.

A row counts as found in a text when all of its identifying numbers (income, hourly rate and
distance, each with its decimals) appear in it. One column's minimum or maximum (a histogram's
edge) is one number of one row, never a row; a row copied word for word, or a plot point that is
one row's values, has all three.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

IDENTIFYING = ("client_income", "lawyer_hourly_rate", "distance_km")
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def numbers_in(blob: bytes) -> set[float]:
    """Every number written in ``blob`` (JSON, HTML, CSV, YAML alike)."""
    return {float(m.group()) for m in _NUMBER.finditer(blob)}


def rows_found(blob: bytes, rows: pd.DataFrame) -> list[int]:
    """Indexes of ``rows`` whose identifying numbers all appear in ``blob``."""
    seen = numbers_in(blob)
    found = pd.Series(True, index=rows.index)
    for column in IDENTIFYING:
        found &= rows[column].astype(float).isin(seen)
    return list(rows.index[found])


def rows_in_files(files: Iterable[Path], rows: pd.DataFrame) -> dict[str, list[int]]:
    """For each file holding any of ``rows``: which ones (the first few)."""
    hits: dict[str, list[int]] = {}
    for path in files:
        if path.is_file():
            found = rows_found(path.read_bytes(), rows)
            if found:
                hits[str(path)] = found[:5]
    return hits
