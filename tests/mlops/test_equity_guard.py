"""The equity guard in a real retrain: an unfair candidate is refused by name though its average
passes; a genuine change and an honest retrain are not refused for noise."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops.sidecar.simulator import simulate
from tests.support.repo import Repo, make_repo


def _retrain(repo: Repo, data: pd.DataFrame) -> dict:
    data.to_csv(repo.data, index=False)
    r = repo.script("retrain_model.py")
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads((repo.root / "mlops" / "tracking" / "last_retrain.json").read_text())


@pytest.fixture
def prod_repo(tmp_path: Path) -> Repo:
    """Each test's own copy, with production's training recipe (epochs as in params.yaml)."""
    return make_repo(tmp_path / "repo", rows=3000, epochs=None)


@pytest.mark.slow
def test_unfair_candidate_is_refused_by_name_though_its_average_passes(prod_repo: Repo) -> None:
    data = simulate(20000, 21, drift="concept")  # a real change, so the average beats production...
    vi = data["client_language"] == "vi"  # ...but Vietnamese-speaking clients' outcomes are shuffled
    data.loc[vi, "match"] = np.random.default_rng(5).permutation(data.loc[vi, "match"].to_numpy())
    last = _retrain(prod_repo, data)
    print(last["decision"]["reason"])
    checks = last["decision"]["checks"]
    assert checks["roc_auc_beats_production"] and checks["roc_auc_floor"], last["decision"]
    assert not checks["equity_guard"] and not last["decision"]["improved"]
    assert "client_language=vi" in last["decision"]["reason"], last["decision"]["reason"]
    assert last["saved_to"] is None


@pytest.mark.slow
def test_genuine_concept_change_touching_every_group_passes_the_guard(prod_repo: Repo) -> None:
    last = _retrain(prod_repo, simulate(20000, 22, drift="concept"))
    print(last["decision"]["reason"])
    assert last["decision"]["checks"]["equity_guard"], last["decision"]["reason"]
    assert last["decision"]["improved"]


@pytest.mark.slow
def test_honest_retrain_on_fresh_data_is_not_refused_for_noise(prod_repo: Repo) -> None:
    last = _retrain(prod_repo, simulate(20000, 23))
    assert last["decision"]["checks"]["equity_guard"], last["decision"]["reason"]
    assert not math.isnan(last["candidate"]["roc_auc"])
