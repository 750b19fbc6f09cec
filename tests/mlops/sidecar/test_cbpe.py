"""ROC AUC estimated before labels (CBPE): the method against exact answers, then against the simulator's truth.

The unit tests use probabilities that are true by construction, so the band must cover the realized
AUC and the analytic expectation must equal the draws' mean. The validation tests use the real
production model (read-only) and the simulator: under covariate shift the estimate must follow the
realized AUC within its band; under concept drift it must not (it cannot see that change), and the
labelled days' calibration error must mark it unreliable.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import auc, roc_auc_score

from ml_model.frame_validation import read_dataset
from ml_model.paths import PRODUCTION_DATA
from ml_model.schema import LABEL
from mlops.paths import PARAMS_FILE
from mlops.sidecar.cbpe import AucEstimate, Calibrator, estimate_auc, estimate_by_group, fit_calibrator
from mlops.sidecar.config import EstimateConfig, MonitorConfig, Params
from mlops.sidecar.equity import group_metrics
from mlops.sidecar.estimate_reliability import day_ece, reliability
from mlops.sidecar.scoring import load_production, score, split_rows
from mlops.sidecar.simulator import simulate

CFG = EstimateConfig(draws=200, boots=50, seed=11, min_rows=500, min_labels=1000, max_ece=0.05)


def calibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True probabilities and labels drawn from them: calibration holds exactly."""
    rng = np.random.default_rng(seed)
    p = 1 / (1 + np.exp(-rng.normal(-1.0, 1.5, n)))
    return p, (rng.random(n) < p).astype(int)


def nannyml_expected_auc(p: np.ndarray) -> float:
    """NannyML's documented estimate, written from its description: the trapezoid under the curve of
    cumulative sums of p (expected true positives) and 1 - p (expected false positives) in score order."""
    q = np.sort(p)[::-1]
    tp = np.concatenate([[0.0], np.cumsum(q)])
    fp = np.concatenate([[0.0], np.cumsum(1 - q)])
    return float(auc(fp / fp[-1], tp / tp[-1]))


# --- the method, on probabilities that are true ---------------------------------------------------


def test_band_covers_the_realized_auc_when_calibration_holds() -> None:
    covered = []
    for seed in range(40):
        p, y = calibrated(2000, seed)
        est = estimate_auc(p, 200, seed)
        covered.append(est.covers(roc_auc_score(y, p)))
        assert est.low < est.value < est.high and est.rows == 2000
    assert sum(covered) >= 35, f"±2 s.d. should cover about 95% of 40 seeds, covered {sum(covered)}"


def test_the_spread_is_the_realized_aucs_spread() -> None:
    p, _ = calibrated(2000, 1)
    est = estimate_auc(p, 400, 1)
    rng = np.random.default_rng(99)
    realized = [roc_auc_score((rng.random(len(p)) < p).astype(int), p) for _ in range(400)]
    assert abs(np.mean(realized) - est.value) < 3 * est.sd / math.sqrt(400) + 1e-4
    assert 0.85 < np.std(realized) / est.sd < 1.15


def test_analytic_estimate_is_nannymls_curve() -> None:
    p, _ = calibrated(3000, 2)
    assert estimate_auc(p, 50, 0).value == pytest.approx(nannyml_expected_auc(p), abs=5e-4)


def test_ties_count_a_half_like_roc_auc_score() -> None:
    rng = np.random.default_rng(3)
    p = rng.choice([0.1, 0.3, 0.3, 0.6, 0.8], size=300)  # heavy ties, as isotonic steps make
    i, j = np.meshgrid(np.arange(300), np.arange(300), indexing="ij")
    off = i != j
    credit = np.where(p[i] > p[j], 1.0, np.where(p[i] == p[j], 0.5, 0.0))
    pos_neg = p[i] * (1 - p[j])
    brute = (pos_neg * credit)[off].sum() / pos_neg[off].sum()  # E[U] / E[n1 n0] over every pair
    assert estimate_auc(p, 50, 0).value == pytest.approx(brute, abs=1e-9)
    realized = [roc_auc_score((rng.random(300) < p).astype(int), p) for _ in range(800)]
    assert np.mean(realized) == pytest.approx(brute, abs=0.004)
    assert estimate_auc(np.full(100, 0.3), 50, 0).value == pytest.approx(0.5)  # all tied: chance


def test_scores_set_the_order_and_break_the_ties() -> None:
    p = np.repeat([0.2, 0.5, 0.8], 200)
    scores = p + np.random.default_rng(4).uniform(0, 0.01, len(p))  # the same order, ties broken
    tied, ordered = estimate_auc(p, 300, 5), estimate_auc(p, 300, 5, scores=scores)
    assert ordered.value == pytest.approx(tied.value, abs=1e-9)  # equal p: the same expectation
    assert ordered.sd > tied.sd  # a broken tie is won or lost, not halved
    reversed_order = estimate_auc(p, 50, 5, scores=1 - p)
    assert reversed_order.value == pytest.approx(1 - tied.value, abs=1e-9)


def test_one_class_is_undefined_and_says_so() -> None:
    for p in (np.zeros(50), np.ones(50), np.array([0.4])):
        with pytest.raises(ValueError, match=r"ROC AUC is undefined on these .* rows"):
            estimate_auc(p, 50, 0)
    with pytest.raises(ValueError, match=r"probs: row 2 is nan"):
        estimate_auc(np.array([0.1, 0.2, np.nan]), 50, 0)
    with pytest.raises(ValueError, match="draws must be at least 2"):
        estimate_auc(np.array([0.1, 0.9]), 1, 0)


def test_calibration_uncertainty_widens_the_band() -> None:
    p, y = calibrated(800, 5)
    cal = fit_calibrator(p, y, boots=40, seed=1)
    current, _ = calibrated(5000, 6)
    q, boot = cal.apply(current), cal.apply_boot(current)
    assert boot.shape == (40, 5000)
    labels_only = estimate_auc(q, 200, 0, scores=current)
    both = estimate_auc(q, 200, 0, scores=current, boot_probs=boot)
    assert both.value == labels_only.value and both.sd > 1.3 * labels_only.sd


# --- the calibrator --------------------------------------------------------------------------------


def test_calibrator_is_monotone_clipped_and_refuses_bad_input() -> None:
    rng = np.random.default_rng(7)
    raw = rng.uniform(0.2, 0.7, 3000)
    y = (rng.random(3000) < raw**2).astype(int)  # miscalibrated: true rate is raw squared
    cal = fit_calibrator(raw, y, boots=3, seed=0)
    assert isinstance(cal, Calibrator) and cal.rows == 3000 and len(cal.boots) == 3
    grid = np.linspace(0, 1, 101)
    q = cal.apply(grid)
    assert np.all(np.diff(q) >= 0) and q[0] == q[20] and q[-1] == q[70]  # clipped outside the reference
    assert abs(cal.apply(np.array([0.6]))[0] - 0.36) < 0.06
    with pytest.raises(ValueError, match="every label must be 0 or 1"):
        fit_calibrator(raw, np.full(3000, 2))
    with pytest.raises(ValueError, match="all 3000 are 1: cannot calibrate"):
        fit_calibrator(raw, np.ones(3000, dtype=int))
    with pytest.raises(ValueError, match=r"reference scores: row 0 is 1\.5,"):
        fit_calibrator([1.5, 0.2], [0, 1])
    with pytest.raises(ValueError, match="2 labels for 3 scores"):
        fit_calibrator([0.1, 0.2, 0.3], [0, 1])


# --- groups ----------------------------------------------------------------------------------------


def test_groups_are_production_qualitys_and_small_ones_are_left_out_by_name() -> None:
    frame = simulate(3000, 8, with_truth=True)
    p = frame["match_probability"].to_numpy()
    cuts = [15000.0, 30000.0, 60000.0]
    out = estimate_by_group(frame, p, 400, cuts=cuts, draws=50, seed=0)
    reported = group_metrics(frame, p, LABEL, cuts)
    assert {c: set(v) for c, v in out.items()} == {c: set(v) for c, v in reported.items()}
    small = {(c, g) for c, v in reported.items() for g, m in v.items() if m["rows"] < 400}
    assert small and len(small) < sum(len(v) for v in reported.values())
    for column, values in out.items():
        for group, est in values.items():
            assert est.rows == reported[column][group]["rows"]
            if (column, group) in small:
                assert math.isnan(est.value) and est.undefined.startswith(f"left out: {est.rows} rows")
                assert est.as_dict()["value"] is None and not est.covers(0.8)
            else:
                assert not est.undefined and est.low < est.value < est.high
    with pytest.raises(ValueError, match="no column client_region"):
        estimate_by_group(frame.drop(columns="client_region"), p, 400, cuts=cuts, draws=50, seed=0)


def test_a_one_class_group_is_undefined_not_an_error() -> None:
    frame = simulate(1200, 9)
    p = np.where(frame["case_type"] == "family", 0.0, 0.4)
    out = estimate_by_group(frame, p, 10, cuts=[30000.0], draws=50, seed=0)
    assert "undefined" in out["case_type"]["family"].undefined
    assert not out["case_type"]["housing"].undefined


# --- reliability and its settings ------------------------------------------------------------------


def test_reliability_marks_estimates_after_a_miscalibrated_day() -> None:
    assert reliability([], CFG)[0] is True
    ok, why = reliability([0.02, math.nan, None, 0.031], CFG)
    assert ok and "2 recent labelled day(s) at most 0.031" in why
    ok, why = reliability([0.02, 0.081, 0.03], CFG)
    assert not ok
    assert "1 of 3 recent labelled days" in why and "above max_ece 0.05" in why and "worst 0.081" in why
    assert "last seen 1 day(s) before the newest" in why
    ok, why = reliability([0.06, 0.02, 0.051], CFG)
    assert not ok and "2 of 3" in why and "last seen on the newest day" in why


def test_day_ece_waits_for_enough_labels() -> None:
    p, y = calibrated(1500, 10)
    assert day_ece(p[:999], y[:999], CFG) is None
    assert 0 < day_ece(p, y, CFG) < CFG.max_ece  # type: ignore[operator]
    assert day_ece(np.clip(p + 0.15, 0, 1), y, CFG) > CFG.max_ece  # type: ignore[operator]


def test_estimate_settings_are_read_and_checked_by_name() -> None:
    raw = yaml.safe_load(PARAMS_FILE.read_text())
    assert Params.load().estimate == EstimateConfig.from_params(raw)
    MonitorConfig.from_params(raw)  # the monitor section keeps its own settings check
    estimate = raw["monitor"]["estimate"]
    with pytest.raises(ValueError, match=r"params.yaml monitor.estimate: unknown setting\(s\) drawz"):
        EstimateConfig.from_params({"monitor": {"estimate": {**estimate, "drawz": 5}}})
    with pytest.raises(ValueError, match="max_ece must be between 0 and 1"):
        EstimateConfig.from_params({"monitor": {"estimate": {**estimate, "max_ece": 5}}})
    with pytest.raises(KeyError, match=r"monitor\.estimate: the section is missing"):
        EstimateConfig.from_params({"monitor": {}})


# --- against the simulator's truth, with the production model --------------------------------------


@pytest.fixture(scope="module")
def production() -> tuple[object, Calibrator, Params]:
    """Production (read-only) and its calibrator on the held-out reference rows, as the monitor fits it."""
    params = Params.load()
    model = load_production()
    _, held_out = split_rows(read_dataset(PRODUCTION_DATA), params.split, PRODUCTION_DATA)
    cal = fit_calibrator(
        score(model, held_out), held_out[LABEL], boots=params.estimate.boots, seed=params.estimate.seed
    )
    return model, cal, params


def day(production: tuple, drift: str, seed: int) -> tuple[AucEstimate, float, float]:
    """A simulated day of 5,000 pairs: the estimate from the scores, the realized AUC and the ECE."""
    model, cal, params = production
    frame = simulate(5000, seed, drift=drift)
    s = score(model, frame).to_numpy()
    cfg = params.estimate
    est = estimate_auc(cal.apply(s), cfg.draws, cfg.seed, scores=s, boot_probs=cal.apply_boot(s))
    ece = day_ece(cal.apply(s), frame[LABEL], cfg)
    assert ece is not None
    return est, float(roc_auc_score(frame[LABEL], s)), ece


@pytest.mark.parametrize("drift", ["none", "case_mix", "prices", "population"])
def test_under_covariate_shift_the_estimate_follows_the_realized_auc(production: tuple, drift: str) -> None:
    for seed in (101, 102):
        est, realized, ece = day(production, drift, seed)
        assert est.covers(realized), f"{drift} seed {seed}: realized {realized:.4f} outside {est}"
        assert est.high - est.low < 0.04  # a band that says something at 5,000 rows
        assert reliability([ece], production[2].estimate)[0], f"{drift}: ECE {ece:.3f}"


def test_under_concept_drift_the_estimate_cannot_see_the_drop_but_labels_mark_it(production: tuple) -> None:
    for seed in (101, 102):
        est, realized, ece = day(production, "concept", seed)
        assert realized < est.low and est.value - realized > 0.05, (est, realized)
        ok, why = reliability([ece], production[2].estimate)
        assert not ok and "above max_ece" in why


def test_per_group_on_production_covers_the_realized_group_aucs(production: tuple) -> None:
    model, cal, params = production
    frame = simulate(5000, 103, drift="case_mix")
    s = score(model, frame).to_numpy()
    cfg = params.estimate
    out = estimate_by_group(
        frame,
        cal.apply(s),
        cfg.min_rows,
        cuts=params.income_bands,
        draws=cfg.draws,
        seed=cfg.seed,
        scores=s,
        boot_probs=cal.apply_boot(s),
    )
    groups = frame.assign(_s=s)
    checked = covered = 0
    for group, est in out["client_language"].items():
        if est.undefined:
            continue
        rows = groups[groups["client_language"] == group]
        checked += 1
        covered += est.covers(roc_auc_score(rows[LABEL], rows["_s"]))
    assert checked >= 3 and covered >= checked - 1
    assert pd.Series({g: e.rows for g, e in out["client_language"].items()}).sum() == 5000
