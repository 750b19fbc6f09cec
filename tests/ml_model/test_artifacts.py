"""Manifest verification and the fast inference path."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pytest

from ml_model.artifacts import ManifestError, load_model, read_dense_layers, verify_manifest
from ml_model.features import design_matrix, frame_columns
from ml_model.paths import ML_MODEL_DIR, MODEL_FILE
from ml_model.schema import FEATURES
from mlops.sidecar.simulator import simulate
from tests.support.service import copy_artifacts, write_signed_manifest


def test_production_artifacts_verify() -> None:
    manifest = verify_manifest(ML_MODEL_DIR)
    assert manifest["model_version"].startswith("v")
    assert manifest["training_data"]["rows"] == 20000


@pytest.mark.parametrize("name", ["encoder.pkl", "scaler.pkl", "lawyer_match_model.h5"])
def test_tampered_artifact_is_refused_before_unpickling(tmp_path, monkeypatch, name: str) -> None:
    d = copy_artifacts(tmp_path / "m")
    with open(d / name, "ab") as fh:
        fh.write(b"\x00")
    unpickled = []
    monkeypatch.setattr(joblib, "load", lambda *a, **k: unpickled.append(a))
    with pytest.raises(ManifestError, match=f"{name}: sha256 .* does not match"):
        load_model(d)
    assert unpickled == []


def test_missing_manifest_or_artifact_is_refused(tmp_path) -> None:
    d = copy_artifacts(tmp_path / "m")
    (d / "scaler.pkl").unlink()
    with pytest.raises(ManifestError, match=r"scaler\.pkl: artifact missing"):
        load_model(d)
    (d / "manifest.json").unlink()
    with pytest.raises(ManifestError, match="manifest not found"):
        load_model(d)


def test_manifest_without_an_entry_is_refused(tmp_path) -> None:
    d = copy_artifacts(tmp_path / "m")
    manifest = json.loads((d / "manifest.json").read_text())
    del manifest["artifacts"]["encoder.pkl"]
    write_signed_manifest(d, manifest)  # even signed, a manifest must vouch for every file
    with pytest.raises(ManifestError, match=r"no sha256 recorded for encoder\.pkl"):
        load_model(d)


def test_unknown_category_scores_like_an_all_zero_one_hot() -> None:
    model = load_model(ML_MODEL_DIR)
    df = simulate(5, 3)[list(FEATURES)]
    cols = frame_columns(df)
    cols["case_type"] = np.array(["tax"] * 5, dtype=object)
    x = model.scorer.design(cols, 5)
    ref = design_matrix(df.assign(case_type="tax"), model.encoder, model.scaler)
    np.testing.assert_allclose(x, ref, atol=1e-6)


@pytest.mark.slow
def test_fast_path_equals_keras_within_1e_5() -> None:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    model = load_model(ML_MODEL_DIR)
    df = simulate(3000, 99)[list(FEATURES)]
    fast = model.scorer.score(frame_columns(df), len(df))
    net = keras.models.load_model(ML_MODEL_DIR / MODEL_FILE, compile=False)
    ref = np.asarray(net(design_matrix(df, model.encoder, model.scaler), training=False)).reshape(-1)
    assert np.max(np.abs(fast - ref)) < 1e-5
    assert len(read_dense_layers(ML_MODEL_DIR / MODEL_FILE)) == 3
