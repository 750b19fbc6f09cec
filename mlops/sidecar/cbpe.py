"""Production's ROC AUC estimated before the labels arrive (confidence-based performance estimation).

Outcomes come weeks after a match is served, so a drop in quality is seen late. CBPE estimates the
ROC AUC from the scores alone: it turns production's scores into calibrated probabilities on the
reference rows, then asks what ROC AUC the current rows would have if each row's label were
Bernoulli(calibrated p). This is NannyML's documented method ("Confidence-based Performance
Estimation", https://nannyml.readthedocs.io: isotonic calibration on the reference, then the
expected confusion matrix and ROC curve from the cumulative sums of p and 1 - p in score order).

Why our own small implementation and not NannyML 0.13.1: it installs with our pins but imports an
undeclared statsmodels, needs Python < 3.13, and pulls lightgbm, xgboost, CUDA's NCCL, gcsfs, s3fs,
FLAML, kaleido and an analytics client for a method of some forty lines; its last release is from
July 2025. The method is checked here against the simulator's truth instead
(``tests/mlops/sidecar/test_cbpe.py``, ``bench/cbpe_bench.py``).

What it can and cannot see
--------------------------
- Covariate shift (the simulator's ``case_mix``, ``prices``, ``population``): the world's answer to
  a given score stays close to what the reference says (the measured calibration error does not
  rise), so the estimate follows the realized AUC.
- Concept drift (``concept``): the features and scores look the same while the world answers them
  differently. The estimate CANNOT see this: it stays at the reference's level while the realized
  AUC falls by about 0.1. Only labels show it, which is why ``reliability`` exists.

The band
--------
``low..high`` is the estimate ± 2 standard deviations of the realized ROC AUC under the model
(not percentiles: at 200 draws the 2.5% quantile rests on five draws, the standard deviation on
all of them). The spread has two sources, and both are drawn: the labels (Bernoulli(p) per row)
and the calibration itself, which is fitted on a few thousand reference rows (each draw takes its
probabilities from one of ``boots`` bootstrap refits of the calibrator). Measured on production,
the calibrator's share is as large as the labels' at 5,000 rows (both about 0.005 s.d.). Over 40
simulated days of 5,000 rows per profile (``bench/cbpe_bench.py --seeds 40``) the band covered the
realized AUC on 38-40 days under no drift and each covariate shift; a band from the labels alone
on only 26-37. The estimate ran high by 0.001-0.007 on average there (isotonic regression on 4,000
rows fits its steps a little too sharply): inside the band, and reported, not corrected.

Reliability: marked, not widened
--------------------------------
When a labelled day shows the calibrated probabilities off from the outcomes (ECE above
``monitor.estimate.max_ece``), the calibration the estimate rests on no longer holds, and no width
of band can say by how much it is wrong (under ``concept`` it is 0.1 off with a band of ±0.015).
So later estimates are marked ``reliable: false`` with the reason, rather than widened.

Use (the monitor wires it; ``cfg = params.estimate``)::

    cal = fit_calibrator(score(model, held_out), held_out[LABEL], boots=cfg.boots, seed=cfg.seed)
    s = score(model, current).to_numpy()  # a day of at least cfg.min_rows rows
    p, boot = cal.apply(s), cal.apply_boot(s)
    est = estimate_auc(p, cfg.draws, cfg.seed, scores=s, boot_probs=boot)
    groups = estimate_by_group(current, p, cfg.min_rows, cuts=params.income_bands,
                               draws=cfg.draws, seed=cfg.seed, scores=s, boot_probs=boot)
    ece = day_ece(cal.apply(labelled_scores), labelled[LABEL], cfg)  # None below cfg.min_labels
    ok, why = reliability([ece of each recent labelled day, oldest first], cfg)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.isotonic import IsotonicRegression

from mlops.sidecar.equity import GROUP_COLUMNS, income_band

Z = 2.0  # the band is the estimate ± Z standard deviations of the realized AUC under the model
_CHUNK_CELLS = 2_000_000  # draws are made in blocks of about this many cells (16 MB of float64)


@dataclass(frozen=True)
class Calibrator:
    """Production's scores -> calibrated match probabilities, fitted on the reference's labels.

    ``boots`` holds refits on bootstrap resamples of the same reference rows: how far another
    reference sample could have moved the calibration, which the band must include.
    """

    isotonic: IsotonicRegression
    boots: tuple[IsotonicRegression, ...]
    rows: int  # reference rows it was fitted on

    def apply(self, scores: Any) -> np.ndarray:
        """Calibrated probabilities of ``scores`` (scores outside the reference's range are clipped)."""
        return self.isotonic.predict(checked_probabilities(scores, "scores"))

    def apply_boot(self, scores: Any) -> np.ndarray:
        """One row of calibrated probabilities per bootstrap refit: shape (boots, len(scores))."""
        s = checked_probabilities(scores, "scores")
        if not self.boots:
            return np.empty((0, len(s)))
        return np.vstack([b.predict(s) for b in self.boots])


def checked_probabilities(values: Any, name: str) -> np.ndarray:
    """A 1-D float array of probabilities, refused with its name when it is not one."""
    a = np.asarray(values, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name}: expected one value per row (1-D), got shape {a.shape}")
    bad = ~np.isfinite(a) | (a < 0) | (a > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}: row {i} is {float(a[i])}, not a probability in [0, 1]")
    return a


def _isotonic(scores: np.ndarray, labels: np.ndarray) -> IsotonicRegression:
    return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, labels)


def fit_calibrator(scores: Any, labels: Any, boots: int = 50, seed: int = 0) -> Calibrator:
    """Isotonic calibration of production's reference scores (NannyML's choice: monotone, so the
    order and hence the ROC curve of the scores is kept, and no shape is assumed), plus ``boots``
    bootstrap refits for the band. About 60 ms with 50 refits at 4,000 rows: rebuilt every run."""
    s = checked_probabilities(scores, "reference scores")
    y = np.asarray(labels)
    if y.shape != s.shape:
        raise ValueError(f"reference labels: {y.shape[0] if y.ndim else 0} labels for {len(s)} scores")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("reference labels: every label must be 0 or 1")
    y = y.astype(float)
    if len(np.unique(y)) < 2:
        raise ValueError(
            f"reference labels: all {len(y)} are {int(y[0]) if len(y) else '-'}: cannot calibrate"
        )
    if boots < 0:
        raise ValueError(f"boots must be >= 0, got {boots}")
    rng = np.random.default_rng(seed)
    resamples = (rng.integers(0, len(s), len(s)) for _ in range(boots))
    return Calibrator(_isotonic(s, y), tuple(_isotonic(s[i], y[i]) for i in resamples), len(s))


@dataclass(frozen=True)
class AucEstimate:
    """An estimated ROC AUC and the band a realized AUC on the same rows should fall in.

    ``undefined`` says why there is no estimate (too few rows, one class); the numbers are then NaN.
    """

    value: float
    low: float
    high: float
    sd: float
    rows: int
    undefined: str = ""

    @classmethod
    def unavailable(cls, rows: int, why: str) -> AucEstimate:
        """No estimate for these ``rows``, and why."""
        return cls(math.nan, math.nan, math.nan, math.nan, rows, why)

    def covers(self, auc: float) -> bool:
        """Whether a realized ROC AUC falls in the band (never, for an undefined estimate)."""
        return not self.undefined and self.low <= auc <= self.high

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (NaN as null)."""
        nums = {k: None if math.isnan(v) else round(v, 5) for k, v in self._numbers().items()}
        return {**nums, "rows": self.rows, **({"undefined": self.undefined} if self.undefined else {})}

    def _numbers(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high, "sd": self.sd}


def _expected_auc(p: np.ndarray, ranks: np.ndarray) -> float:
    """E[U] / E[n1 n0] with labels ~ Bernoulli(p), in rank-sum form.

    U = sum(y * rank) - n1 (n1 + 1) / 2 with average ranks (ties count a half, as roc_auc_score
    does), and the ranks do not depend on the labels, so the expectation is closed-form. It is
    NannyML's trapezoid under the expected TPR/FPR curve less the pairs of a row with itself
    (a difference of order 1/rows).
    """
    n, s, v = len(p), float(p.sum()), float((p * (1 - p)).sum())
    pairs = n * s - v - s * s  # E[n1 n0]
    if pairs <= 1e-12:
        raise ValueError(
            f"ROC AUC is undefined on these {n} rows: the calibrated probabilities leave no chance of "
            "both a match and a non-match (one class)"
        )
    return (float(p @ ranks) - (v + s * s + s) / 2) / pairs


def _drawn_aucs(probs: np.ndarray, ranks: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Realized ROC AUCs of ``draws`` label draws, row k of ``probs`` giving draw k's probabilities
    (cycled). Each draw is one dot product with the ranks; one-class draws are NaN."""
    n = probs.shape[1]
    out = np.empty(draws)
    step = max(1, _CHUNK_CELLS // max(n, 1))
    for start in range(0, draws, step):
        idx = np.arange(start, min(draws, start + step))
        y = (rng.random((len(idx), n)) < probs[idx % len(probs)]).astype(float)
        n1 = y.sum(axis=1)
        pairs = n1 * (n - n1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[idx] = np.where(pairs > 0, (y @ ranks - n1 * (n1 + 1) / 2) / pairs, np.nan)
    return out


def estimate_auc(
    probs: Any,
    draws: int,
    seed: int,
    *,
    scores: Any = None,
    boot_probs: Any = None,
) -> AucEstimate:
    """The expected ROC AUC of rows whose labels are Bernoulli(``probs``), and its band.

    ``scores``: the order the realized AUC is measured in (production's own scores; default
    ``probs``). The expectation is the same either way (rows tied in ``probs`` have equal p), only
    the spread differs slightly. ``boot_probs``: the bootstrap calibrators' probabilities
    (``Calibrator.apply_boot``); without them the band holds the labels' noise only and is too
    narrow (module docstring). Raises ValueError when the AUC is undefined (one class).
    """
    p = checked_probabilities(probs, "probs")
    order = p if scores is None else checked_probabilities(scores, "scores")
    if len(order) != len(p):
        raise ValueError(f"scores: {len(order)} values for {len(p)} probabilities")
    if draws < 2:
        raise ValueError(f"draws must be at least 2 (a spread needs two), got {draws}")
    spread = p[None, :] if boot_probs is None or len(boot_probs) == 0 else np.asarray(boot_probs, float)
    if spread.ndim != 2 or spread.shape[1] != len(p):
        raise ValueError(f"boot_probs: expected shape (boots, {len(p)}), got {spread.shape}")
    ranks = rankdata(order, method="average")
    value = _expected_auc(p, ranks)
    drawn = _drawn_aucs(spread, ranks, draws, np.random.default_rng(seed))
    drawn = drawn[~np.isnan(drawn)]
    if len(drawn) < 2:
        raise ValueError(f"ROC AUC is undefined on these {len(p)} rows: almost every draw has one class")
    sd = float(drawn.std(ddof=1))
    return AucEstimate(value, max(0.0, value - Z * sd), min(1.0, value + Z * sd), sd, len(p))


def estimate_by_group(
    frame: pd.DataFrame,
    probs: Any,
    min_rows: int,
    *,
    cuts: Sequence[float],
    draws: int,
    seed: int,
    scores: Any = None,
    boot_probs: Any = None,
) -> dict[str, dict[str, AucEstimate]]:
    """The estimate for each group production_quality reports (``equity.GROUP_COLUMNS``: language,
    region, case type, income band by ``cuts``). A group with fewer than ``min_rows`` rows (or one
    class) gets ``AucEstimate.unavailable`` saying so: its band would be wider than any change worth
    reporting."""
    p = checked_probabilities(probs, "probs")
    if len(frame) != len(p):
        raise ValueError(f"probs: {len(p)} values for {len(frame)} rows")
    missing = [c for c in (*GROUP_COLUMNS[:-1], "client_income") if c not in frame.columns]
    if missing:
        raise ValueError(f"estimate_by_group: the frame has no column {', '.join(missing)}")
    s = p if scores is None else checked_probabilities(scores, "scores")
    boot = None if boot_probs is None or len(boot_probs) == 0 else np.asarray(boot_probs, float)
    groups = frame.assign(income_band=income_band(frame["client_income"], list(cuts))).reset_index(drop=True)
    out: dict[str, dict[str, AucEstimate]] = {}
    for column in GROUP_COLUMNS:
        out[column] = {}
        for value, idx in groups.groupby(column, sort=True, observed=True).indices.items():
            out[column][str(value)] = _group_estimate(p, s, boot, idx, min_rows, draws, seed)
    return out


def _group_estimate(
    p: np.ndarray,
    s: np.ndarray,
    boot: np.ndarray | None,
    idx: np.ndarray,
    min_rows: int,
    draws: int,
    seed: int,
) -> AucEstimate:
    """One group's estimate, or why there is none."""
    if len(idx) < min_rows:
        return AucEstimate.unavailable(len(idx), f"left out: {len(idx)} rows, fewer than min_rows {min_rows}")
    try:
        sub = None if boot is None else boot[:, idx]
        return estimate_auc(p[idx], draws, seed, scores=s[idx], boot_probs=sub)
    except ValueError as exc:
        return AucEstimate.unavailable(len(idx), str(exc))
