"""The gate's ranking guard: the product orders lawyers, so a candidate that orders them worse
than production, by more than noise, is refused by name, the way the equity guard refuses.

The pools are the ranking report's seeded simulated cases (``ranking`` in params.yaml), but their
relevance is not the simulator's fixed truth: it is a reference model (``model_quality.fit_hgb``)
fitted on the newest labelled data version's own training rows, i.e. that data's world. After a
concept change the data version carries the new world, so the reference does too, and a
candidate that adapted to it is not held back by the old one (a fixed truth would block exactly
the retrain the change calls for).

Both models order the same pools; per case, the NDCG@k and whether the reference's best lawyer is
in the first ``top`` are compared, and the mean fall's standard error comes from the per-case
differences (paired: the cases are shared). A metric fails when it falls by more than its
allowed drop (``gate.max_ranking_drop``) and by more than two standard errors.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlops.sidecar.config import RankingConfig
from mlops.sidecar.model_quality import Scorer, fit_hgb
from mlops.sidecar.ranking import draw_pools

Z = 2.0  # standard errors a fall must exceed to be more than noise


@dataclass(frozen=True)
class RankingComparison:
    """Candidate against production on the same pools, per metric: means, mean fall and its s.e."""

    cases: int
    metrics: dict[str, dict[str, float]]  # name -> {"candidate", "production", "drop", "se"}

    def as_dict(self) -> dict[str, Any]:
        """The JSON form logged with the decision."""
        return asdict(self)


def per_case_ndcg(relevance: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """NDCG@k of each case (row): scikit-learn's definition, one value per case."""
    from sklearn.metrics import ndcg_score

    return np.array([ndcg_score(relevance[i : i + 1], scores[i : i + 1], k=k) for i in range(len(relevance))])


def per_case_top(relevance: np.ndarray, scores: np.ndarray, top: int) -> np.ndarray:
    """1.0 where the case's most relevant lawyer is among the scorer's first ``top`` (ties count against)."""
    rows = np.arange(len(relevance))
    best = scores[rows, np.argmax(relevance, axis=1)]
    return ((scores >= best[:, None]).sum(axis=1) - 1 < top).astype(float)


def compare(
    relevance: np.ndarray, candidate: np.ndarray, production: np.ndarray, cfg: RankingConfig
) -> RankingComparison:
    """Per-case metrics of both orders (all ``(cases, pool)`` arrays) and the paired mean fall."""
    out: dict[str, dict[str, float]] = {}
    for name, fn, arg in (("ndcg10", per_case_ndcg, cfg.k), ("top3", per_case_top, cfg.top)):
        c, p = fn(relevance, candidate, arg), fn(relevance, production, arg)
        diff = p - c
        se = float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else math.nan
        out[name] = {
            "candidate": float(c.mean()),
            "production": float(p.mean()),
            "drop": float(diff.mean()),
            "se": se,
        }
    return RankingComparison(len(relevance), out)


def measure(
    train_df: pd.DataFrame, candidate: Scorer, production: Scorer, cfg: RankingConfig
) -> RankingComparison:
    """Both models on the ranking pools, relevance from a reference fitted on ``train_df``."""
    pools = draw_pools(cfg)
    reference = fit_hgb(train_df)
    shape = pools.shape

    def order(scorer: Scorer) -> np.ndarray:
        return np.asarray(scorer(pools.features), dtype=float).reshape(shape)

    return compare(order(reference), order(candidate), order(production), cfg)


def ranking_check(comparison: RankingComparison, max_drop: dict[str, float]) -> tuple[bool, list[str]]:
    """The guard: whether it holds and, for each metric that falls beyond noise, a sentence naming it."""
    failures = []
    for name, allowed in sorted(max_drop.items()):
        m = comparison.metrics.get(name)
        if m is None:
            failures.append(f"{name} was not measured")
            continue
        if m["drop"] > allowed and m["drop"] > Z * m["se"]:
            failures.append(
                f"candidate {name} {m['candidate']:.4f} falls {m['drop']:.4f} below production's "
                f"{m['production']:.4f} on the same {comparison.cases} cases (allowed {allowed:.4f}, "
                f"{Z:.0f} s.e. {Z * m['se']:.4f})"
            )
    return not failures, failures
