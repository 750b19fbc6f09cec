"""Retrain a candidate on the newest data version and compare it with production.

Both models are scored on the same held-out rows; the gate (``gate.decide``) says whether the
candidate is an improvement and why. Every run is logged to MLflow as ``retrain_<ts>``; an improved
candidate is written to ``mlops/models/v<ts>/`` (staged, then renamed into place) and registered
with alias ``challenger``. Production (``ml_model/``) is read, never written.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import sys
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout

from ml_model.artifacts import LoadedModel, load_model, read_manifest
from ml_model.common import atomic_write_json, exit_script, setup_logging, sha256_file
from ml_model.features import frame_columns
from ml_model.paths import (
    DATASET,
    EQUITY_EVAL,
    LAST_METRICS,
    LAST_RETRAIN,
    MANIFEST_FILE,
    ML_MODEL_DIR,
    MODELS_DIR,
    PARAMS_FILE,
    PROMOTE_LOCK,
    REGISTERED_MODEL,
    REPO_ROOT,
    RETRAIN_LOCK,
    STAGING_DIR,
    TRACKING_DIR,
    model_version,
    timestamp,
)
from ml_model.schema import FEATURES, LABEL, read_dataset
from ml_model.train_model import TrainConfig, Trained, import_keras, library_versions, save_artifacts, train
from mlops.mlflow_setup import configure
from mlops.scripts.equity import auc_plot, measure
from mlops.scripts.gate import Decision, decide
from mlops.scripts.utils import (
    Timer,
    add_dvc_outputs_flag,
    load_params,
    load_production,
    metrics_of,
    mlflow_run,
    remove_sidecar_debris,
    repair_registry,
    roc_points,
    run_cli,
    score,
    script_parser,
    test_split,
)

log = logging.getLogger(__name__)


@dataclass
class Inputs:
    """What a retrain reads: the data version, its split, the recipe and the production model."""

    data: Path
    digest: str
    rows: int
    train_df: pd.DataFrame
    test_df: pd.DataFrame
    params: dict[str, Any]
    config: TrainConfig
    production: LoadedModel
    equity_eval: pd.DataFrame  # the fixed set the equity guard measures on


@dataclass
class Scored:
    """The trained candidate beside production on the same held-out rows, and the gate's word."""

    trained: Trained
    model: LoadedModel
    candidate: dict[str, float]
    production: dict[str, float]
    decision: Decision
    equity: dict[str, Any]  # candidate's and production's groups on the equity evaluation set


@dataclass
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


def load_inputs(data: Path, params_file: Path) -> Inputs:
    """Read and validate the data version and the recipe, split them, verify production."""
    params = load_params(params_file)
    df = read_dataset(data)
    train_df, test_df = test_split(df, params, data)
    if not EQUITY_EVAL.is_file():
        raise ValueError(
            f"the equity evaluation set {EQUITY_EVAL} is missing: run `make data` (bootstrap_data.py)"
        )
    inputs = Inputs(data, sha256_file(data), len(df), train_df, test_df, params,
                    TrainConfig.from_params(params), load_production(), read_dataset(EQUITY_EVAL))  # fmt: skip
    log.info("Data %s (sha256 %s...): %d training rows, %d held out.",
             data, inputs.digest[:12], len(train_df), len(test_df))  # fmt: skip
    return inputs


def train_and_score(inputs: Inputs, staging: Path, version: str, timer: Timer) -> Scored:
    """Train the candidate into ``staging``, load it as the service would, score both, ask the gate."""
    with timer("importing TensorFlow"):
        import_keras()
    with timer("training"):
        trained = train(inputs.train_df, inputs.config, verbose=2)
    with timer("scoring"):
        save_artifacts(staging, trained, {"model_version": version}, probe_rows=inputs.test_df)
        model = load_model(staging)
        candidate = metrics_of(model, inputs.test_df)
        prod = metrics_of(inputs.production, inputs.test_df)
        ev, cuts = inputs.equity_eval, inputs.params["groups"]["income_bands"]
        equity = {
            name: measure(ev, score(m, ev), LABEL, cuts)
            for name, m in (("candidate", model), ("production", inputs.production))
        }
        decision = decide(candidate, prod, inputs.params["gate"], equity)
    log.info("Candidate: %s.", ", ".join(f"{k} {v:.4f}" for k, v in candidate.items()))
    log.info(
        "Production %s: %s.", inputs.production.version, ", ".join(f"{k} {v:.4f}" for k, v in prod.items())
    )
    log.info("Gate: %s. %s.", "IMPROVED" if decision.improved else "not improved", decision.reason)
    return Scored(trained, model, candidate, prod, decision, equity)


def complete_manifest(inputs: Inputs, scored: Scored, record: RetrainRecord, staging: Path) -> None:
    """What a reviewer and promotion need to know of the candidate, in its manifest before it is logged."""
    manifest = load_model(staging).manifest
    manifest.update({
        "created_at": record.version.removeprefix("v"),
        "training_data": {"path": str(inputs.data), "sha256": inputs.digest, "rows": inputs.rows,
                          "train_rows": len(inputs.train_df)},
        "train_config": inputs.config.as_dict(),
        "metrics": scored.candidate,
        "production_metrics": scored.production,
        "decision": scored.decision.as_dict(),
        "libraries": library_versions(),
    })  # fmt: skip
    atomic_write_json(staging / MANIFEST_FILE, manifest)


def log_run(mlflow: Any, inputs: Inputs, scored: Scored, record: RetrainRecord, staging: Path) -> Any:
    """Params, metrics (candidate and ``production_``), tags, metrics.json and the servable model."""
    cfg = inputs.config
    mlflow.set_tags({"decision": "improved" if scored.decision.improved else "rejected",
                     "reason": scored.decision.reason})  # fmt: skip
    mlflow.log_params({
        "algorithm": cfg.algorithm, "batch_size": cfg.batch_size, "epochs": cfg.epochs,
        "hidden_layers": ",".join(map(str, cfg.hidden_layers)), "learning_rate": cfg.learning_rate,
        "seed": cfg.seed, "test_size": cfg.test_size, "train_rows": len(inputs.train_df),
        "test_rows": len(inputs.test_df), "production_version": inputs.production.version,
    })  # fmt: skip
    mlflow.log_params({f"gate_{k}": v for k, v in _flat(inputs.params["gate"]).items()})  # the thresholds
    with warnings.catch_warnings():  # MLflow's hint on integer columns: ours never miss values
        warnings.simplefilter("ignore", UserWarning)
        dataset = mlflow.data.from_pandas(inputs.train_df, source=inputs.data.resolve().as_uri(),
                                          name=inputs.data.name, targets=LABEL, digest=inputs.digest[:16])  # fmt: skip
        mlflow.log_input(dataset, context="training")
    for name, values in scored.trained.history.items():  # the training curve, one point per epoch
        for epoch, value in enumerate(values, start=1):
            mlflow.log_metric(f"train_{name}", value, step=epoch)
    mlflow.log_metrics(scored.candidate)
    mlflow.log_metrics({f"production_{k}": v for k, v in scored.production.items()})
    mlflow.log_dict(record.as_dict(), "metrics.json")
    mlflow.log_dict(scored.equity, "equity.json")
    with tempfile.TemporaryDirectory() as tmp:
        auc_plot(scored.equity, Path(tmp) / "auc_by_group.png")
        mlflow.log_artifact(str(Path(tmp) / "auc_by_group.png"), "plots")
    return log_servable(mlflow, staging, scored.model, inputs.test_df)


def log_servable(mlflow: Any, folder: Path, model: LoadedModel, rows: pd.DataFrame) -> Any:
    """The artifact set in ``folder`` as a pyfunc model on the 14 raw fields, into the active run."""
    from mlflow.models import infer_signature

    from mlops.pyfunc_model import LawyerMatchModel, artifact_paths

    example = rows[list(FEATURES)].head(200).reset_index(drop=True)
    preds = pd.Series(model.scorer.score(frame_columns(example), len(example)), name="match_probability")
    # Pinned requirements: without them MLflow infers them by loading the model in a subprocess.
    libs = {**library_versions(), "mlflow": mlflow.__version__}
    reqs = [f"{p}=={libs[p]}" for p in ("mlflow", "numpy", "pandas", "scikit-learn", "h5py", "joblib")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        signature = infer_signature(example, preds)
    logging.getLogger("mlflow.pyfunc").addFilter(_NotOurPickle())
    return mlflow.pyfunc.log_model(
        name="model", python_model=LawyerMatchModel(), artifacts=artifact_paths(folder),
        signature=signature, input_example=example.head(3), pip_requirements=reqs,
    )  # fmt: skip


def ensure_champion(mlflow: Any, inputs: Inputs) -> None:
    """Register production as ``champion`` when the registry has none, so from the first run a reviewer
    compares ``challenger`` with what is served, and a rollback has a version to point back at.

    Logged in its own run (``production_<version>``) from ``ml_model/``, read only; the version is
    tagged ``model_version`` so promotion can find it again (production's manifest is never written).
    Under the promotion lock, so a promotion cannot swap the files while they are logged; when one
    is running, or production is no longer the model this retrain loaded, it is left for next time.
    """
    from mlflow.exceptions import MlflowException

    client = mlflow.tracking.MlflowClient()
    with contextlib.suppress(MlflowException):
        client.get_model_version_by_alias(REGISTERED_MODEL, "champion")
        return
    version = inputs.production.version
    try:
        with FileLock(PROMOTE_LOCK).acquire(timeout=0):
            if read_manifest(ML_MODEL_DIR).get("model_version") != version:
                log.warning(
                    "Production changed since it was loaded: registering it as champion is left for next time."
                )
                return
            register_production(mlflow, client, inputs, version)
    except Timeout:
        log.warning(
            "A promotion is running: registering production as champion is left for the next retrain."
        )


def register_production(mlflow: Any, client: Any, inputs: Inputs, version: str) -> None:
    """Log ``ml_model/`` as it is served, register it, and give it alias ``champion`` (see above)."""
    with mlflow_run(mlflow, f"production_{version}", {"kind": "production", "model_version": version}):
        logged = log_servable(mlflow, ML_MODEL_DIR, inputs.production, inputs.test_df)
    mv = mlflow.register_model(logged.model_uri, REGISTERED_MODEL, tags={"model_version": version})
    client.set_registered_model_alias(REGISTERED_MODEL, "champion", mv.version)
    client.update_model_version(REGISTERED_MODEL, mv.version, description=(
        f"Production model {version} as served from ml_model/ (not trained by a pipeline run), registered "
        "by the first retrain so that alias 'champion' names what production serves."))  # fmt: skip
    log.info("Registered production %s as version %s with alias 'champion'.", version, mv.version)


class _NotOurPickle(logging.Filter):
    """MLflow warns that a Python object is pickled; ours is this project's class, pickled by reference."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Passing a Python object as `python_model`")


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as flat MLflow params: ``max_drop: {f1: 0.01}`` becomes ``max_drop_f1``."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}_") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def save_candidate(mlflow: Any, record: RetrainRecord, logged: Any, staging: Path) -> None:
    """Register the improved candidate as ``challenger``, name it in its manifest, rename it into place."""
    mv = mlflow.register_model(logged.model_uri, REGISTERED_MODEL, tags={"model_version": record.version})
    client = mlflow.tracking.MlflowClient()
    client.set_registered_model_alias(REGISTERED_MODEL, "challenger", mv.version)
    client.update_model_version(
        REGISTERED_MODEL, mv.version, description=f"Gate: improved. {record.decision['reason']}."
    )
    record.registered_version = str(mv.version)
    manifest = load_model(staging).manifest
    manifest["mlflow"] = {"run_id": record.run_id, "model_uri": logged.model_uri,
                          "registered_model": REGISTERED_MODEL, "registered_version": str(mv.version)}  # fmt: skip
    atomic_write_json(staging / MANIFEST_FILE, manifest)
    atomic_write_json(staging / "metrics.json", record.as_dict())
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    final = MODELS_DIR / record.version
    try:
        staging.rename(final)  # the candidate appears whole, or not at all
    except OSError:
        client.delete_model_version(REGISTERED_MODEL, mv.version)  # no alias without a folder
        raise
    record.saved_to = str(final.relative_to(REPO_ROOT))
    log.info(
        "Saved candidate %s to %s and set alias 'challenger' on version %s.",
        record.version,
        final,
        mv.version,
    )


def write_dvc_outputs(record: RetrainRecord, improved: bool, roc: dict[str, list]) -> None:
    """The files dvc.yaml tracks: the metrics summary and the ROC points."""
    # Few, flat keys so `dvc metrics show` stays readable at 100 columns: the candidate's ROC AUC
    # (production's on the same rows is eval_latest.json's ``auc``) and the gate's decision. The full
    # record is last_retrain.json and the MLflow run.
    summary = {"auc": record.candidate["roc_auc"], "improved": improved}
    atomic_write_json(LAST_METRICS, summary)
    for name, points in roc.items():
        atomic_write_json(TRACKING_DIR / f"roc_{name}.json", points)


def retrain(
    data: Path = DATASET, params_file: Path = PARAMS_FILE, dvc_outputs: bool = False
) -> dict[str, Any]:
    """The spec's retraining flow; returns the record also written to ``last_retrain.json``."""
    timer = Timer()
    with timer("loading data"):
        inputs = load_inputs(data, params_file)
    with timer("importing MLflow"):
        mlflow = configure()
        repair_registry(mlflow)
        ensure_champion(mlflow, inputs)
    ts = timestamp()
    STAGING_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{model_version(ts)}.", dir=STAGING_DIR))
    try:
        with mlflow_run(mlflow, f"retrain_{ts}", {"timestamp": ts, "data_hash": inputs.digest}) as run:
            scored = train_and_score(inputs, staging, model_version(ts), timer)
            record = RetrainRecord(
                f"retrain_{ts}", run.info.run_id, model_version(ts), inputs.digest, scored.candidate,
                scored.production, inputs.production.version, scored.decision.as_dict(), inputs.params["gate"],
            )  # fmt: skip
            complete_manifest(inputs, scored, record, staging)
            with timer("MLflow logging"):
                logged = log_run(mlflow, inputs, scored, record, staging)
                roc = roc_points(inputs.test_df[LABEL].to_numpy(),
                                 {"candidate": scored.model, "production": inputs.production}, inputs.test_df)  # fmt: skip
            if scored.decision.improved:
                with timer("saving candidate"):
                    save_candidate(mlflow, record, logged, staging)
            mlflow.set_tag("saved_to", record.saved_to or "")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    MODELS_DIR.mkdir(parents=True, exist_ok=True)  # the DVC output exists even when nothing was saved
    atomic_write_json(LAST_RETRAIN, record.as_dict())  # the newest run's record (not DVC-tracked)
    if dvc_outputs:
        write_dvc_outputs(record, scored.decision.improved, roc)
    log.info("Retrain finished: %s.", timer.summary())
    return record.as_dict()


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, take the retrain lock, run; exit 2 on bad input, 3 when another retrain runs."""
    parser = script_parser(__doc__, params_help="params.yaml with train, data and gate")
    add_dvc_outputs_flag(parser)
    args = parser.parse_args(argv)
    setup_logging()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a TERM ends the MLflow run as FAILED
    RETRAIN_LOCK.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(RETRAIN_LOCK)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.error(
            "Another retrain is running (lock %s is held); refusing to start a second one.", RETRAIN_LOCK
        )
        return 3
    try:
        remove_sidecar_debris()  # leftovers of a killed retrain; we hold the lock
        code, _ = run_cli("retrain", retrain, args.data, args.params, args.dvc_outputs)
    finally:
        lock.release()
    return code


if __name__ == "__main__":
    exit_script(main())
