"""Training: seeded determinism, a complete manifest, and refusal of bad data."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ml_model.artifacts import load_model
from ml_model.paths import REPO_ROOT
from mlops.sidecar.simulator import simulate

TRAIN = str(REPO_ROOT / "ml_model" / "train_model.py")


@pytest.mark.slow
def test_same_data_and_seed_give_same_metrics(tmp_path) -> None:
    data = tmp_path / "d.csv"
    simulate(3000, 8).to_csv(data, index=False)
    metrics = []
    for name in ("a", "b"):
        out = tmp_path / name
        r = subprocess.run(
            [sys.executable, TRAIN, "--data", str(data), "--out-dir", str(out), "--epochs", "3"],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stderr
        manifest = json.loads((out / "manifest.json").read_text())
        metrics.append(manifest["metrics"])
        loaded = load_model(out)  # verifies the manifest it wrote
        assert loaded.manifest["training_data"]["rows"] == 3000
        assert set(manifest["libraries"]) >= {"tensorflow-cpu", "keras", "scikit-learn"}
    assert metrics[0] == metrics[1]
    assert 0.6 < metrics[0]["roc_auc"] <= 1.0


def test_bad_data_is_refused_with_file_column_and_row(tmp_path) -> None:
    data = tmp_path / "bad.csv"
    df = simulate(200, 8)
    df.loc[7, "lawyer_rating"] = 7.0
    df.to_csv(data, index=False)
    out = tmp_path / "out"
    r = subprocess.run(
        [sys.executable, TRAIN, "--data", str(data), "--out-dir", str(out)], capture_output=True, text=True
    )
    assert r.returncode == 2
    assert "bad.csv" in r.stderr and "column 'lawyer_rating', row 8" in r.stderr
    assert not out.exists()


def test_help() -> None:
    r = subprocess.run([sys.executable, TRAIN, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--out-dir" in r.stdout


def test_labels_of_one_value_are_refused_up_front(tmp_path) -> None:
    from ml_model.train_model import split

    df = simulate(500, 4).assign(match=1)
    with pytest.raises(ValueError, match=r"every one of the 500 rows has match = 1: .*need both outcomes"):
        split(df, 0.2, 42)
