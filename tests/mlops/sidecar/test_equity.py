"""The equity guard, as functions: a group that loses more than the whole is named; noise, small groups
and losses alike are not. The guard in a real retrain: tests/mlops/test_equity_guard.py."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops.sidecar.config import GateThresholds
from mlops.sidecar.equity import equity_check, group_metrics, income_band
from mlops.sidecar.gate import decide
from mlops.sidecar.simulator import simulate

THRESHOLDS = GateThresholds(min_roc_auc=0.5, min_delta=0.0, min_group_rows=300, max_group_auc_drop=0.05)


def measured(overall: float, aucs: dict[str, float], rows: int = 2000, se: float = 0.01) -> dict:
    groups = {"client_language": {g: {"rows": rows, "roc_auc": a, "roc_auc_se": se} for g, a in aucs.items()}}
    return {"overall": overall, "groups": groups}


def test_a_group_that_loses_more_than_the_whole_is_named() -> None:
    prod = measured(0.88, {"en": 0.86, "vi": 0.90})
    ok, why = equity_check(measured(0.87, {"en": 0.86, "vi": 0.71}), prod, 300, 0.05)
    assert not ok and len(why) == 1 and why[0].startswith("client_language=vi (2000 rows) loses 0.190")
    decision = decide(
        {"roc_auc": 0.9},
        {"roc_auc": 0.8},
        THRESHOLDS,
        {"candidate": measured(0.87, {"en": 0.86, "vi": 0.71}), "production": prod},
    )
    assert (
        not decision.improved
        and not decision.checks["equity_guard"]
        and "client_language=vi" in decision.reason
    )


def test_losses_alike_noise_and_small_groups_pass() -> None:
    prod = measured(0.88, {"en": 0.86, "vi": 0.90, "ar": 0.90})
    alike = measured(0.78, {"en": 0.76, "vi": 0.79, "ar": 0.77})  # everyone loses about the same
    assert equity_check(alike, prod, 300, 0.05) == (True, [])
    noisy = measured(0.88, {"en": 0.86, "vi": 0.84, "ar": 0.90}, se=0.03)  # -0.06, but within 2 s.e. (0.085)
    assert equity_check(noisy, prod, 300, 0.05)[0]
    small = measured(0.88, {"en": 0.86, "vi": 0.60, "ar": 0.90}, rows=120)
    assert equity_check(small, prod, 300, 0.05)[0]
    gains = measured(0.95, {"en": 0.95, "vi": 0.93, "ar": 0.96})  # vi gains less than the rest: no loss
    assert equity_check(gains, prod, 300, 0.05)[0]


def test_group_metrics_cover_every_row_and_carry_uncertainty() -> None:
    df = simulate(6000, 3)
    prob = np.clip(df["match"] * 0.3 + np.random.default_rng(0).random(len(df)) * 0.7, 0, 1)
    g = group_metrics(df, prob, "match", [15000, 30000, 60000])
    assert set(g) == {"client_language", "client_region", "case_type", "income_band"}
    for values in g.values():
        assert sum(v["rows"] for v in values.values()) == len(df)
    assert set(g["income_band"]) == {"<15000", "15000-30000", "30000-60000", ">=60000"}
    small = min(g["client_language"].values(), key=lambda v: v["rows"])
    large = max(g["client_language"].values(), key=lambda v: v["rows"])
    assert small["roc_auc_se"] > large["roc_auc_se"] > 0
    assert income_band(pd.Series([14999.0, 15000.0, 60000.0]), [15000, 30000, 60000]).tolist() == [
        "<15000",
        "15000-30000",
        ">=60000",
    ]
