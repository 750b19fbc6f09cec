"""Made-up rows within the data contract, for everything an artifact carries as an example.

A set's probe batch (``manifest.json``), MLflow's input examples and the docs' examples travel with
the artifacts: they are committed, uploaded and shared. Once training data comes from production
they would be clients' cases, so no artifact ever holds a training row; these rows are drawn
instead. Each is valid against the contract (``schema.FEATURE_FIELDS``), every category of every
field appears in a batch of 7 or more, and numbers lie in the range real cases have (the
contract's bounds are far wider), so a probe exercises the network where it is used.

This lives in ``ml_model`` (not the sidecar's simulator) because training writes the probe and
production must not import the sidecar.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml_model.schema import FEATURE_FIELDS

# Where real cases lie within the contract's bounds: (low, high, decimals).
TYPICAL: dict[str, tuple[float, float, int]] = {
    "case_complexity": (1, 5, 0),
    "client_income": (6_000, 150_000, 2),
    "lawyer_experience_years": (0, 40, 1),
    "lawyer_rating": (1.0, 5.0, 2),
    "lawyer_active_cases": (0, 60, 0),
    "lawyer_hourly_rate": (40, 450, 2),
    "distance_km": (0, 120, 2),
}


def contract_rows(n: int, seed: int) -> pd.DataFrame:
    """``n`` made-up feature rows, the same for the same ``seed``; never anyone's data."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    for field in FEATURE_FIELDS:
        if field.kind == "category":
            # Each category in turn, then shuffled: a batch of len(vocab) rows covers the vocabulary.
            values = np.resize(np.array(field.vocab, dtype=object), n)
            columns[field.name] = rng.permutation(values)
            continue
        low, high, decimals = TYPICAL[field.name]
        if field.kind == "int":
            columns[field.name] = rng.integers(int(low), int(high) + 1, size=n).astype(np.int64)
        else:
            columns[field.name] = np.round(rng.uniform(low, high, size=n), decimals)
    return pd.DataFrame(columns)[[f.name for f in FEATURE_FIELDS]]
