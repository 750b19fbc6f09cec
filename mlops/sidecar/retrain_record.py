"""What a retrain reads, what it measures, and what it records: the types its steps pass along.

Kept apart from the steps (``retrain.py``) and their MLflow side (``retrain_tracking.py``), which
both use them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ml_model.artifacts import LoadedModel
from ml_model.train_model import Trained
from mlops.sidecar.config import Params
from mlops.sidecar.gate import Decision


@dataclass(frozen=True)
class Inputs:
    """What a retrain reads: the data version, its split, the settings and the production model."""

    data: Path
    digest: str
    rows: int
    train_df: pd.DataFrame
    test_df: pd.DataFrame
    params: Params
    production: LoadedModel
    equity_eval: pd.DataFrame  # the fixed set the equity guard measures on


@dataclass(frozen=True)
class CandidateScores:
    """The trained candidate beside production on the same held-out rows, and the gate's word."""

    trained: Trained
    model: LoadedModel
    candidate: dict[str, float]
    production: dict[str, float]
    decision: Decision
    equity: dict[str, Any]  # candidate's and production's groups on the equity evaluation set
    ranking: dict[str, Any] | None = None  # the ranking guard's comparison (ranking_guard.py)


@dataclass(frozen=True)
class RetrainRecord:
    """The run's outcome: ``last_retrain.json``, the candidate's ``metrics.json`` and MLflow's copy."""

    run_name: str
    run_id: str
    version: str
    data_sha256: str
    candidate: dict[str, float]
    production: dict[str, float]
    production_version: str
    decision: dict[str, Any]
    thresholds: dict[str, Any]
    saved_to: str | None = None
    registered_version: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form; ``registered_version`` appears only once a version exists."""
        out = asdict(self)
        if out["registered_version"] is None:
            del out["registered_version"]
        return out
