"""params.yaml, typed: every section the sidecar reads builds, and a misspelt setting is refused."""

from __future__ import annotations

import pytest
import yaml

from mlops.paths import PARAMS_FILE
from mlops.sidecar.config import GateThresholds, MonitorConfig, Params


def test_params_build_every_section() -> None:
    params = Params.load()
    assert params.split.test_size == params.train.test_size  # one recipe, read once
    assert params.gate.min_roc_auc > 0.5 and set(params.gate.max_drop) == {"f1", "accuracy"}
    assert set(params.gate.max_ranking_drop) == {"ndcg10", "top3"}
    assert "client_income" in params.monitor.key_features and params.monitor.min_rows > 0
    assert list(params.income_bands) == sorted(params.income_bands)
    assert params.ranking.k == 10 and params.equity_eval.rows > 0


def test_unknown_or_missing_settings_are_refused_by_name() -> None:
    raw = yaml.safe_load(PARAMS_FILE.read_text())
    with pytest.raises(ValueError, match=r"params.yaml gate: unknown setting\(s\) min_rocauc"):
        GateThresholds.from_params({"gate": {**raw["gate"], "min_rocauc": 0.8}})
    with pytest.raises(ValueError, match=r"params.yaml monitor: unknown setting\(s\) treshold"):
        MonitorConfig.from_params({"monitor": {**raw["monitor"], "treshold": 0.2}})
    missing = {k: v for k, v in raw["monitor"].items() if k != "min_rows"}
    with pytest.raises(KeyError, match="min_rows"):
        MonitorConfig.from_params({"monitor": missing})


def test_thresholds_as_logged() -> None:
    gate = GateThresholds(0.75, 0.002, {"f1": 0.01})
    assert gate.as_dict() == {
        "min_roc_auc": 0.75,
        "min_delta": 0.002,
        "max_drop": {"f1": 0.01},
        "min_group_rows": 300,
        "max_group_auc_drop": 0.05,
        "max_ranking_drop": {},
    }
