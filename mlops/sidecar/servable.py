"""An artifact set logged as the registry's servable model: a pyfunc on the 14 raw fields.

Candidates and production (when first registered) are logged the same way, so any registered
version can be promoted by a person or scored by ``mlflow models serve``.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from ml_model.artifacts import LoadedModel
from ml_model.features import frame_columns
from ml_model.synthetic import contract_rows
from ml_model.train_model import library_versions

PINNED = ("mlflow", "numpy", "pandas", "scikit-learn", "h5py", "joblib")


class _NotOurPickle(logging.Filter):
    """MLflow warns that a Python object is pickled; ours is this project's class, pickled by reference."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Passing a Python object as `python_model`")


EXAMPLE_ROWS = 200
EXAMPLE_SEED = 20261


def log_servable(mlflow: Any, folder: Path, model: LoadedModel) -> Any:
    """The artifact set in ``folder`` as a pyfunc model on the 14 raw fields, into the active run.

    The signature is inferred from, and the input example MLflow stores (``input_example.json``,
    ``serving_input_example.json``) taken from, made-up rows within the contract: a registered
    model is shared, so it must not carry a client's case."""
    from mlflow.models import infer_signature

    from mlops.pyfunc_model import LawyerMatchModel, artifact_paths

    example = contract_rows(EXAMPLE_ROWS, EXAMPLE_SEED)
    preds = pd.Series(model.scorer.score(frame_columns(example), len(example)), name="match_probability")
    # Pinned requirements: without them MLflow infers them by loading the model in a subprocess.
    libs = {**library_versions(), "mlflow": mlflow.__version__}
    reqs = [f"{p}=={libs[p]}" for p in PINNED]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        signature = infer_signature(example, preds)
    logging.getLogger("mlflow.pyfunc").addFilter(_NotOurPickle())
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=LawyerMatchModel(),
        artifacts=artifact_paths(folder),
        signature=signature,
        input_example=example.head(3),
        pip_requirements=reqs,
    )
