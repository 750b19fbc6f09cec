"""Ranking quality: the product is an order of lawyers for one case, so measure orders.

Why beside the classification metrics: ROC AUC pools every (case, lawyer) pair, while /rank only
ever compares the lawyers of one case. Here a seeded set of simulated cases each gets a pool of
candidate lawyers from the simulator, every scorer orders each pool, and the simulator's true
match probability says how good each order is:

- ``ndcg10``: scikit-learn's NDCG@k with the true match probability as graded relevance (the
  truth's own order scores 1.0, a random order is the floor);
- ``top3``: the share of cases whose truly best lawyer is among the first ``top`` (ties count
  against the scorer, so a constant score does not look perfect);
- ``unaffordable_above``: over pairs of one case's lawyers that the truth rates alike in all
  but price (their true logits with the rate set to 0 differ by at most ``fit_tolerance``), one
  unaffordable and one affordable, the share the scorer puts the unaffordable one higher (ties
  count half). At the default settings the truth's own share is 0 (its price penalty between the
  two classes, at least 1.4 logits, exceeds the tolerance) and ignoring price gives about 0.5.

Affordability (``ranking`` in params.yaml) compares the lawyer's hourly rate with the client's
hourly income, ``income / 2000`` (2,000 working hours a year): unaffordable above
``unaffordable_factor`` times it, affordable at or below ``affordable_factor`` times it. In the
simulator's terms (a 40-hour case against a month's income) factor 4 is a burden of 0.96 and
factor 2 one of 0.48, either side of its penalty midpoint 0.6.

The metrics take scorers, callables from a feature table to probabilities; ``rank_models`` wires
in the production model, a candidate and the HGB baseline (``model_quality.fit_hgb``) trained on
production's own training rows.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ml_model.artifacts import LoadedModel
from ml_model.schema import CASE_FIELDS, CASE_TYPES, LANGUAGES
from mlops.sidecar.config import RankingConfig
from mlops.sidecar.model_quality import Scorer, fit_hgb, model_scorer, training_rows
from mlops.sidecar.simulator import Profile, draw_pairs, profile, true_logit

HOURS_PER_YEAR = 2000.0
CASE_COLUMNS = tuple(f.name for f in CASE_FIELDS)
METRICS = ("ndcg10", "top3", "unaffordable_above")


@dataclass(frozen=True)
class Pools:
    """``cases`` pools of ``pool`` lawyers, one table in case order, and the truth as (cases, pool) arrays."""

    features: pd.DataFrame  # the schema's feature columns, cases * pool rows
    truth: np.ndarray  # true match probability
    fit_ex_price: np.ndarray  # true logit with the hourly rate set to 0: the fit apart from price

    @property
    def shape(self) -> tuple[int, int]:
        """(cases, pool)."""
        return self.truth.shape


def _pool_for(rng: np.random.Generator, case: pd.Series, pool: int) -> pd.DataFrame:
    """``pool`` lawyers for one case, drawn by the simulator itself.

    A one-point profile fixes the case type and client language, so the lawyers' specialization
    and language are drawn exactly as the simulator conditions them. The client region is not a
    profile setting: the draw's own region is swapped with the case's in the lawyer column too,
    so "same region" (and with it the distance) keeps its simulated relation to the case.
    """
    one = Profile(
        case_p=np.array([float(c == case["case_type"]) for c in CASE_TYPES]),
        lang_p=np.array([float(c == case["client_language"]) for c in LANGUAGES]),
    )
    df = draw_pairs(rng, pool, one)
    own, target = df["client_region"].to_numpy(), case["client_region"]
    lawyer = df["lawyer_region"].to_numpy()
    df["lawyer_region"] = np.where(lawyer == own, target, np.where(lawyer == target, own, lawyer))
    for name in CASE_COLUMNS:
        df[name] = case[name]
    return df


def draw_pools(cfg: RankingConfig) -> Pools:
    """The seeded cases and their candidate pools; the same config always gives the same pools."""
    rng = np.random.default_rng(cfg.seed)
    cases = draw_pairs(rng, cfg.cases, profile("none"))
    features = pd.concat(
        [_pool_for(rng, cases.iloc[i], cfg.pool) for i in range(cfg.cases)], ignore_index=True
    )
    features = features.astype({"case_complexity": np.int64, "client_income": np.float64})
    shape = (cfg.cases, cfg.pool)
    truth = 1.0 / (1.0 + np.exp(-true_logit(features).reshape(shape)))
    fit = true_logit(features.assign(lawyer_hourly_rate=0.0)).reshape(shape)
    return Pools(features, truth, fit)


def affordability(
    features: pd.DataFrame, cfg: RankingConfig, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (cases, pool) masks: unaffordable lawyers and affordable ones, by the params' rule."""
    hourly_income = features["client_income"].to_numpy(float) / HOURS_PER_YEAR
    rate = features["lawyer_hourly_rate"].to_numpy(float)
    unaffordable = rate > cfg.unaffordable_factor * hourly_income
    affordable = rate <= cfg.affordable_factor * hourly_income
    return unaffordable.reshape(shape), affordable.reshape(shape)


def ndcg_at(truth: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Mean NDCG@k over cases, the truth's probability as graded relevance (scikit-learn's)."""
    from sklearn.metrics import ndcg_score

    return float(ndcg_score(truth, scores, k=k))


def top_share(truth: np.ndarray, scores: np.ndarray, top: int) -> float:
    """Share of cases whose truly best lawyer is in the scorer's first ``top``; ties count against."""
    rows = np.arange(len(truth))
    best = scores[rows, np.argmax(truth, axis=1)]
    ahead = (scores >= best[:, None]).sum(axis=1) - 1  # others scored at least as high
    return float(np.mean(ahead < top))


def inversion_pairs(
    fit: np.ndarray, unaffordable: np.ndarray, affordable: np.ndarray, tolerance: float
) -> np.ndarray:
    """(cases, pool, pool) mask of pairs (i unaffordable, j affordable) within ``tolerance`` in fit."""
    close = np.abs(fit[:, :, None] - fit[:, None, :]) <= tolerance
    return close & unaffordable[:, :, None] & affordable[:, None, :]


def inversion_rate(scores: np.ndarray, pairs: np.ndarray) -> float:
    """Share of ``pairs`` (i, j) the scorer orders i above j; ties count half; NaN without pairs."""
    if not pairs.any():
        return float("nan")
    above = (scores[:, :, None] > scores[:, None, :]).astype(float)
    above += 0.5 * (scores[:, :, None] == scores[:, None, :])
    return float(above[pairs].mean())


def measure(pools: Pools, scorers: Mapping[str, Scorer], cfg: RankingConfig) -> dict[str, Any]:
    """NDCG@k, top share and the affordability inversion rate of each scorer, the truth and random.

    Returns ``{"config", "pairs", "cases_with_pairs", "table": {name: {metric: value}}}``; the
    table lists the given scorers in order, then ``truth``, ``truth_without_price`` (the truth
    blind to the hourly rate: what ignoring price scores) and ``random``.
    """
    shape = pools.shape
    unaffordable, affordable = affordability(pools.features, cfg, shape)
    pairs = inversion_pairs(pools.fit_ex_price, unaffordable, affordable, cfg.fit_tolerance)
    orders = {
        name: np.asarray(fn(pools.features), dtype=float).reshape(shape) for name, fn in scorers.items()
    }
    orders["truth"] = pools.truth
    orders["truth_without_price"] = pools.fit_ex_price  # what ignoring price looks like
    orders["random"] = np.random.default_rng(cfg.seed + 1).random(shape)
    table = {
        name: {
            "ndcg10": ndcg_at(pools.truth, s, cfg.k),
            "top3": top_share(pools.truth, s, cfg.top),
            "unaffordable_above": inversion_rate(s, pairs),
        }
        for name, s in orders.items()
    }
    return {
        "config": asdict(cfg),
        "pairs": int(pairs.sum()),
        "cases_with_pairs": int(pairs.any(axis=(1, 2)).sum()),
        "table": table,
    }


def table_lines(result: Mapping[str, Any]) -> list[str]:
    """The ranking table for the plain-text report, with the rule it was measured by."""
    cfg = result["config"]
    lines = [
        f"Ranking quality on {cfg['cases']} simulated cases x {cfg['pool']} candidate lawyers "
        f"(seed {cfg['seed']}; relevance: the simulator's true match probability)",
        f"  {'scorer':<22}{'ndcg@' + str(cfg['k']):>9}{'top-' + str(cfg['top']):>8}{'unaff.>aff.':>13}",
    ]
    for name, row in result["table"].items():
        lines.append(
            f"  {name:<22}{row['ndcg10']:>9.4f}{row['top3']:>8.3f}{row['unaffordable_above']:>13.4f}"
        )
    lines += [
        f"  unaff.>aff.: share of {result['pairs']} lawyer pairs ({result['cases_with_pairs']} cases) ranked "
        f"unaffordable (rate > {cfg['unaffordable_factor']:g} x income/2000) above affordable",
        f"  (rate <= {cfg['affordable_factor']:g} x income/2000) when their fit apart from price is within "
        f"{cfg['fit_tolerance']:g} logits. truth_without_price: the truth blind to the rate (ignoring price).",
    ]
    if "seconds" in result:
        lines.append(f"  Measured in {result['seconds']:.1f} s.")
    return lines


def rank_models(
    cfg: RankingConfig, production: LoadedModel, candidate: LoadedModel | None = None
) -> dict[str, Any]:
    """The ranking table of production, a candidate (if given) and HGB, with the seconds it took.

    HGB is trained on production's own training rows, so it is the baseline for the same data.
    """
    start = time.perf_counter()
    pools = draw_pools(cfg)
    scorers: dict[str, Scorer] = {"production": model_scorer(production)}
    if candidate is not None:
        scorers["candidate"] = model_scorer(candidate)
    scorers["hgb"] = fit_hgb(training_rows(production))
    result = measure(pools, scorers, cfg)
    result["versions"] = {"production": production.version}
    if candidate is not None:
        result["versions"]["candidate"] = candidate.version
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result


def headline(result: Mapping[str, Any], name: str = "production") -> dict[str, float]:
    """One scorer's three ranking figures, rounded, for the flat DVC metric and MLflow (finite ones only)."""
    row = result["table"][name]
    return {m: round(float(row[m]), 4) for m in METRICS if np.isfinite(row[m])}
