"""The drift rule: quiet on sampling noise, loud on every drift profile; Evidently's tests agree with it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml_model.frame_validation import read_dataset
from ml_model.metrics import classification_metrics
from ml_model.paths import PRODUCTION_DATA
from ml_model.schema import FEATURES
from mlops.sidecar.config import Params
from mlops.sidecar.drift import AucCheck, AucDrop, drift_verdict, run_drift, verdict_with_floor
from mlops.sidecar.equity import auc_se
from mlops.sidecar.scoring import load_production, score, split_rows
from mlops.sidecar.simulator import DRIFT_PROFILES, simulate

PARAMS = Params.load()
CFG = PARAMS.monitor


def col(drifted: bool) -> dict:
    return {"method": "wasserstein", "score": 0.3 if drifted else 0.01, "threshold": 0.15, "drifted": drifted}


def test_rule_share_key_features_and_quality() -> None:
    quiet = {c: col(False) for c in FEATURES}
    v = drift_verdict(quiet, None, CFG)
    assert (v.drift, v.reasons, v.word, v.line) == (
        False,
        (),
        "NO DRIFT",
        "NO DRIFT: no rule of the monitor was met",
    )
    one_minor = {**quiet, "lawyer_rating": col(True)}
    assert drift_verdict(one_minor, None, CFG).drift is False
    one_key = {**quiet, "client_income": col(True)}
    v = drift_verdict(one_key, None, CFG)
    assert v.drift and "key feature(s) drifted: client_income" in v.reasons[0] and v.kinds == ("inputs",)
    assert v.line == "DRIFT: " + "; ".join(v.reasons)
    minor = ("lawyer_rating", "distance_km", "urgency", "lawyer_region")
    many = {c: col(c in minor) for c in FEATURES}  # 4 of 14 non-key columns: share 0.29 >= 0.25
    assert drift_verdict(many, None, CFG).drift
    concept = drift_verdict(quiet, AucDrop(reference=0.88, current=0.80, se=0.01), CFG)
    assert concept.drift and concept.kinds == ("concept",)
    assert drift_verdict(one_key, AucDrop(0.88, 0.80, 0.01), CFG).kinds == ("inputs", "concept")
    assert AucDrop(0.88, 0.80, 0.02).floor(0.03) == pytest.approx(0.88 - 0.06)  # 3 s.e. beyond max_auc_drop
    noisy = AucDrop(reference=0.88, current=0.80, se=0.03)  # a drop within 3 standard errors is noise
    assert not drift_verdict(quiet, noisy, CFG).drift


def test_too_few_rows_give_no_verdict_whatever_the_scores() -> None:
    drifted = {c: col(True) for c in FEATURES}
    v = verdict_with_floor(drifted, None, CFG, tested=CFG.min_rows - 1)
    assert (v.drift, v.judged, v.word) == (None, False, "NO VERDICT")  # neither drift nor no drift
    assert v.line.startswith(f"NO VERDICT: only {CFG.min_rows - 1} rows, fewer than min_rows")
    assert verdict_with_floor(drifted, None, CFG, tested=CFG.min_rows).drift


def test_auc_standard_error_shrinks_with_rows() -> None:
    small = auc_se(0.87, pd.Series([1] * 270 + [0] * 730))
    large = auc_se(0.87, pd.Series([1] * 2700 + [0] * 7300))
    assert 0.005 < small < 0.03 and large < small / 3


@pytest.fixture(scope="module")
def world() -> dict:
    reference = read_dataset(PRODUCTION_DATA)
    model = load_production()
    _, held_out = split_rows(reference, PARAMS.split)
    return {
        "reference": reference,
        "model": model,
        "ref_q": classification_metrics(held_out["match"], score(model, held_out)),
        "held_out": held_out,
    }


def verdict(world: dict, current: pd.DataFrame) -> tuple[bool, list[str], dict]:
    """Our verdict; and the Evidently report's tests (what its HTML shows) must say the same."""
    run = run_drift(world["reference"], current, CFG)
    columns = run.columns
    features_drift = drift_verdict(columns, None, CFG).drift  # the part the report's tests carry
    assert bool(run.failed) == features_drift, run.failed
    cur_q = classification_metrics(current["match"], score(world["model"], current))
    se = (
        auc_se(world["ref_q"]["roc_auc"], world["held_out"]["match"]) ** 2
        + auc_se(cur_q["roc_auc"], current["match"]) ** 2
    ) ** 0.5
    v = drift_verdict(columns, AucDrop(world["ref_q"]["roc_auc"], cur_q["roc_auc"], se), CFG)
    return v.drift, list(v.reasons), columns


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rows", "seeds"), [(1000, range(100, 110)), (5000, range(200, 203)), (20000, range(300, 302))]
)
def test_no_alarm_on_fresh_samples_of_the_same_world(world: dict, rows: int, seeds: range) -> None:
    for seed in seeds:
        v, reasons, columns = verdict(world, simulate(rows, seed))
        top = max(c["score"] for c in columns.values())
        assert not v, (rows, seed, reasons)
        assert top < CFG.threshold * 0.75, (rows, seed, top)  # and with a margin


@pytest.mark.slow
@pytest.mark.parametrize("profile", [p for p in DRIFT_PROFILES if p != "none"])
@pytest.mark.parametrize("rows", [1000, 20000])
def test_every_drift_profile_raises_the_alarm(world: dict, profile: str, rows: int) -> None:
    v, reasons, _ = verdict(world, simulate(rows, 900 + rows, profile))
    assert v, (profile, rows)
    if profile == "concept":
        assert any("ROC AUC fell" in r for r in reasons)
    else:
        assert any("key feature" in r for r in reasons)


def test_the_auc_test_is_at_our_floor_and_the_page_has_no_second_reference_auc() -> None:
    """Evidently's ROC AUC test runs on the labelled current rows alone (drift._auc_snapshot): its pass or
    fail is a row of the tests, and the page shows no ROC AUC of Evidently's over the reference rows."""
    reference = read_dataset(PRODUCTION_DATA).sample(3000, random_state=1)
    current = simulate(1200, 5)
    rng = np.random.default_rng(5)
    scores = np.clip(current["match"].to_numpy() * 0.3 + rng.random(len(current)) * 0.7, 0, 1)  # AUC ~0.8
    run = run_drift(reference, current, CFG, auc=AucCheck(scores, floor=0.95))
    auc_rows = [t for t in run.tests if t["test"].startswith("Production ROC AUC")]
    assert len(auc_rows) == 1 and auc_rows[0]["threshold"] == 0.95 and auc_rows[0]["operator"] == ">="
    assert not auc_rows[0]["passed"] and 0.7 < auc_rows[0]["value"] < 0.95
    assert run.failed == [auc_rows[0]["evidently_name"]]  # the column tests pass on a fresh sample
    names = {t["test"] for t in run.tests}
    assert {"Share of drifted columns", "Drift score of client_income (key feature)"} <= names
    assert all(t["value"] is not None and t["operator"] in ("<", ">=") for t in run.tests)
    page = run.snapshot.get_html_str(as_iframe=False)
    assert "RocAuc" not in page and "ROC Curve" not in page  # no reference AUC over the training rows
    assert run_drift(reference, current, CFG, with_tests=False, auc=AucCheck(scores, 0.95)).tests == []
