"""Feature engineering shared by training, the service and the sidecar.

A plain MLP on one-hot inputs falls about 0.02 ROC AUC short of the best achievable on our data;
the pair features a domain expert names first (specialization fit, shared language, same region,
affordability, caseload under urgency, experience against complexity) close most of that gap.
Features are computed from column arrays, so a DataFrame and a batch of JSON instances take the
same code path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ml_model.schema import CATEGORICAL

if TYPE_CHECKING:
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC_FEATURES: tuple[str, ...] = (
    "case_complexity",
    "log_client_income",
    "lawyer_experience_years",
    "lawyer_rating",
    "lawyer_active_cases",
    "log_hourly_rate",
    "log_distance_km",
    "spec_fit",
    "lang_match",
    "lang_barrier",
    "same_region",
    "pro_bono",
    "cost_burden",
    "urgent_caseload",
    "complexity_x_experience",
    "distance_decay",
    "caseload_excess",
    "log_cost_burden",
)


def numeric_matrix(cols: Mapping[str, np.ndarray]) -> np.ndarray:
    """The unscaled numeric design columns, in NUMERIC_FEATURES order, as float64 (C order).

    Stacked with one ``np.array`` and a transpose: ``np.column_stack`` was most of the time of
    a one-row call. Every column is computed as before, so the values are the same bit for bit."""
    income = np.asarray(cols["client_income"], dtype=np.float64)
    rate = np.asarray(cols["lawyer_hourly_rate"], dtype=np.float64)
    dist = np.asarray(cols["distance_km"], dtype=np.float64)
    active = np.asarray(cols["lawyer_active_cases"], dtype=np.float64)
    cx = np.asarray(cols["case_complexity"], dtype=np.float64)
    exp_years = np.asarray(cols["lawyer_experience_years"], dtype=np.float64)
    client_lang = np.asarray(cols["client_language"])
    lang_match = (np.asarray(cols["lawyer_language"]) == client_lang).astype(np.float64)
    burden = rate * 40.0 / np.maximum(income / 12.0, 100.0)
    columns = (
        cx,
        np.log1p(income),
        exp_years,
        np.asarray(cols["lawyer_rating"], dtype=np.float64),
        active,
        np.log1p(rate),
        np.log1p(dist),
        np.asarray(cols["lawyer_specialization"]) == np.asarray(cols["case_type"]),
        lang_match,
        (1.0 - lang_match) * (client_lang != "en"),
        np.asarray(cols["lawyer_region"]) == np.asarray(cols["client_region"]),
        rate == 0,
        np.minimum(burden, 5.0),
        (np.asarray(cols["urgency"]) == "high") * active,
        cx * exp_years,
        np.exp(-dist / 25.0),
        np.maximum(active - 20.0, 0.0),
        np.log1p(burden),
    )
    return np.ascontiguousarray(np.array(columns, dtype=np.float64).T)


def frame_columns(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """A validated DataFrame as the column mapping the feature code takes."""
    return {name: df[name].to_numpy() for name in df.columns}


def design_matrix(df: pd.DataFrame, encoder: OneHotEncoder, scaler: StandardScaler) -> np.ndarray:
    """The model's input through scikit-learn itself: the reference the fast path must equal."""
    onehot = encoder.transform(df[list(CATEGORICAL)])
    if hasattr(onehot, "toarray"):
        onehot = onehot.toarray()
    scaled = scaler.transform(numeric_matrix(frame_columns(df)))
    return np.hstack([onehot, scaled]).astype(np.float32)
