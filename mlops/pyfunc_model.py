"""The registry's servable model: an MLflow pyfunc over a verified artifact set.

A registered model must be something a person can promote and anyone can score: the h5, both
pickles and the manifest, taking the 14 raw fields of the data contract. Loading verifies the
manifest before anything is unpickled, exactly as the service does, and scoring takes the
service's own path (``validate_batch`` then the NumPy scorer), so the registry, ``mlflow models
serve`` and our ``/predict`` give the same probabilities. The class is pickled by reference: the
project must be installed where the model is loaded (it is, in ``./.venv``).

The caveat: ``mlflow.pyfunc.load_model`` (and ``mlflow models serve``) unpickles the model's
``python_model.pkl`` with cloudpickle *before* ``load_context`` runs, so MLflow itself executes
code from the registry there, and no check of ours can come first. None of our commands calls it:
promotion, the doctor and the service download the files and read them with our own loader
(signature first, then the allow-list unpickler). Whoever serves a registered version with MLflow's
loader trusts every account that can write the registry; verify it first with
``promote_model.py --from-registry <version> --dry-run``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

from ml_model.artifacts import LoadedModel, load_model
from ml_model.paths import MANIFEST_FILE
from ml_model.request_validation import validate_batch
from ml_model.schema import FEATURE_FIELDS, FEATURES
from mlops.paths import SET_FILES

log = logging.getLogger(__name__)


class LawyerMatchModel(mlflow.pyfunc.PythonModel):
    """Match probability for raw (case, lawyer) rows, from the artifact set logged beside it."""

    def load_context(self, context: Any) -> None:
        """Verify and load the logged set (all four files sit in one folder of the model)."""
        folder = Path(context.artifacts[MANIFEST_FILE]).parent
        self.model: LoadedModel = load_model(folder)
        log.info("Loaded model %s from %s.", self.model.version, folder)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.Series:
        """Validate the rows as the service does (unknown categories score as all-zero), then score."""
        frame = pd.DataFrame(model_input)[list(FEATURES)]
        cols = validate_batch(frame.to_dict(orient="records"), FEATURE_FIELDS, "rows")
        return pd.Series(self.model.scorer.score(cols, len(frame)), name="match_probability")


def artifact_paths(folder: Path) -> dict[str, str]:
    """The set in ``folder`` as pyfunc artifacts, keyed by file name (MLflow keeps the names)."""
    return {name: str(folder / name) for name in SET_FILES}
