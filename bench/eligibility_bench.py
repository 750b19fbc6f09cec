"""Eligibility first or the model's order: which list serves a client better, by the simulator's truth.

Why: the backend (backend/lib/match.js) puts the lawyers who practise the case type and speak the
client's language ("eligible") above the others, in the model's order within each group. This
measures what that costs or gains against the model's own order, and whether the others should
be shown after the eligible ones (a labelled fallback group) or not at all, with the ranking
metrics of mlops/sidecar/ranking.py: NDCG@10 and top-3, the simulator's true match probability
as relevance (``true_logit``). Nothing in mlops/ is changed; nothing is written.

Two kinds of pools:

- ``simulator``: ranking.py's own pools (params.yaml ``ranking``: cases, pool, seed); half of each
  pool shares the case type (the simulator's intake pre-filter), 55% the client's language.
- ``directory``: the same kind of simulated cases, each against the backend's real candidate
  list, the 200 lawyers of backend/data/lawyers.json, with the features built as match.js builds
  them (a lawyer who speaks the client's language is presented in it, distance from the centroid
  of the client's region). This is the list a client actually gets.

Orders measured on each (every one ranks within a group by the production model):

- ``model``: the model's order (what the page showed before);
- ``eligible_first``: eligible lawyers, then the others as a fallback group;
- ``eligible_only``: eligible lawyers only, the others not shown (fewer than 10 when fewer are
  eligible; a missing place scores 0 in NDCG, and a best lawyer not shown is a top-3 miss);
- ``truth`` and ``random``: the ceiling and the floor.

NDCG here is computed directly (linear gain, log2 discount, the truth's own top 10 as the
ideal), so a list shorter than 10 can be scored; on a full order it equals scikit-learn's
``ndcg_score`` (checked on the model's order each run).

Run: .venv/bin/python bench/eligibility_bench.py [--cases 300] [--seed 909]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ml_model.schema import FEATURES  # noqa: E402
from mlops.sidecar.config import Params, RankingConfig  # noqa: E402
from mlops.sidecar.model_quality import model_scorer  # noqa: E402
from mlops.sidecar.ranking import CASE_COLUMNS, draw_pools, ndcg_at  # noqa: E402
from mlops.sidecar.scoring import load_production  # noqa: E402
from mlops.sidecar.simulator import _sigmoid, draw_pairs, profile, true_logit  # noqa: E402

LAWYERS = ROOT / "backend" / "data" / "lawyers.json"
REGIONS = ROOT / "backend" / "data" / "regions.json"
EARTH_RADIUS_KM = 6371.0088
HIDDEN = -np.inf  # the score of a lawyer an order does not show


def haversine_km(lat1: float, lon1: float, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance, as backend/lib/geo.js computes it."""
    p1, p2 = math.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(lon2) - math.radians(lon1)
    a = np.sin(dlat / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def directory_pools(cases: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Simulated cases against the real directory: (features, truth, eligible), built like match.js."""
    lawyers = json.loads(LAWYERS.read_text(encoding="utf-8"))
    centroids = {
        k: v for k, v in json.loads(REGIONS.read_text(encoding="utf-8")).items() if not k.startswith("_")
    }
    lat = np.array([x["location"]["lat"] for x in lawyers])
    lon = np.array([x["location"]["lon"] for x in lawyers])
    case_rows = draw_pairs(np.random.default_rng(seed), cases, profile("none"))[list(CASE_COLUMNS)]
    frames, eligible = [], []
    for _, case in case_rows.iterrows():
        c = centroids[case["client_region"]]
        lang = case["client_language"]
        speaks = np.array([lang in x["languages"] for x in lawyers])
        spec = np.array([x["specialization"] for x in lawyers], dtype=object)
        frame = pd.DataFrame(
            {
                **{name: [case[name]] * len(lawyers) for name in CASE_COLUMNS},
                "lawyer_specialization": spec,
                "lawyer_language": [
                    lang if s else x["languages"][0] for s, x in zip(speaks, lawyers, strict=True)
                ],
                "lawyer_region": [x["region"] for x in lawyers],
                "lawyer_experience_years": [float(x["experience_years"]) for x in lawyers],
                "lawyer_rating": [float(x["rating"]) for x in lawyers],
                "lawyer_active_cases": [int(x["active_cases"]) for x in lawyers],
                "lawyer_hourly_rate": [float(x["hourly_rate"]) for x in lawyers],
                "distance_km": np.round(haversine_km(c["lat"], c["lon"], lat, lon), 3),
            }
        )
        frames.append(frame)
        eligible.append((spec == case["case_type"]) & speaks)
    features = pd.concat(frames, ignore_index=True)
    features = features.astype({"case_complexity": np.int64, "client_income": np.float64})
    shape = (cases, len(lawyers))
    truth = _sigmoid(true_logit(features)).reshape(shape)
    return features, truth, np.array(eligible)


def eligible_of(features: pd.DataFrame, shape: tuple[int, int]) -> np.ndarray:
    """Practises the case type and speaks the client's language (one language per simulated lawyer)."""
    spec = features["lawyer_specialization"].to_numpy() == features["case_type"].to_numpy()
    lang = features["lawyer_language"].to_numpy() == features["client_language"].to_numpy()
    return (spec & lang).reshape(shape)


def ndcg(truth: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Mean NDCG@k; lawyers scored HIDDEN are not shown (their places score 0)."""
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    total = 0.0
    for rel, s in zip(truth, scores, strict=True):
        shown = np.flatnonzero(np.isfinite(s))
        order = shown[np.argsort(-s[shown], kind="stable")][:k]
        dcg = float(np.sum(rel[order] * discount[: len(order)]))
        ideal = float(np.sum(np.sort(rel)[::-1][:k] * discount))
        total += dcg / ideal
    return total / len(truth)


def top_share(truth: np.ndarray, scores: np.ndarray, top: int) -> float:
    """Share of cases whose truly best lawyer is shown in the first ``top``; ties count against."""
    rows = np.arange(len(truth))
    best = scores[rows, np.argmax(truth, axis=1)]
    ahead = (scores >= best[:, None]).sum(axis=1) - 1
    return float(np.mean(np.isfinite(best) & (ahead < top)))


def orders(model: np.ndarray, eligible: np.ndarray, truth: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Each order as scores per (case, lawyer): higher first, HIDDEN not shown."""
    return {
        "model": model,
        "eligible_first": model + 2.0 * eligible,  # probabilities are in [0, 1]: the group decides
        "eligible_only": np.where(eligible, model, HIDDEN),
        "truth": truth,
        "random": np.random.default_rng(seed + 1).random(truth.shape),
    }


def why_not(features: pd.DataFrame, truth: np.ndarray, eligible: np.ndarray) -> dict[str, float]:
    """Where the truly best lawyer stands when not eligible: shares of those cases."""
    cases, pool = truth.shape
    best = np.argmax(truth, axis=1)
    rows = np.arange(cases) * pool + best
    spec = features["lawyer_specialization"].to_numpy()[rows] == features["case_type"].to_numpy()[rows]
    lang = features["lawyer_language"].to_numpy()[rows] == features["client_language"].to_numpy()[rows]
    free = features["lawyer_hourly_rate"].to_numpy()[rows] == 0
    miss = ~eligible[np.arange(cases), best]
    n = max(int(miss.sum()), 1)
    return {
        "type_not_language": float((miss & spec & ~lang).sum() / n),
        "language_not_type": float((miss & ~spec & lang).sum() / n),
        "neither": float((miss & ~spec & ~lang).sum() / n),
        "pro_bono": float((miss & free).sum() / n),
    }


def report(
    name: str,
    features: pd.DataFrame,
    truth: np.ndarray,
    scores: dict[str, np.ndarray],
    eligible: np.ndarray,
    cfg: RankingConfig,
) -> dict:
    """Print and return the table for one kind of pool."""
    cases, pool = truth.shape
    best_eligible = eligible[np.arange(cases), np.argmax(truth, axis=1)].mean()
    counts = eligible.sum(axis=1)
    why = why_not(features, truth, eligible)
    print(f"\n{name}: {cases} cases x {pool} lawyers")
    print(
        f"  eligible per case: median {np.median(counts):.0f}, fewer than {cfg.k}: {np.mean(counts < cfg.k):.1%}, "
        f"fewer than {cfg.top}: {np.mean(counts < cfg.top):.1%}, none: {np.mean(counts == 0):.1%}; "
        f"the truly best lawyer is eligible in {best_eligible:.1%} of cases"
    )
    print(
        f"  when not: practises the type but not the language {why['type_not_language']:.0%}, "
        f"speaks the language but another type {why['language_not_type']:.0%}, neither {why['neither']:.0%}; "
        f"pro bono {why['pro_bono']:.0%}"
    )
    print(f"  {'order':<16}{'ndcg@' + str(cfg.k):>9}{'top-' + str(cfg.top):>8}")
    table = {}
    for order, s in scores.items():
        table[order] = {"ndcg10": ndcg(truth, s, cfg.k), "top3": top_share(truth, s, cfg.top)}
        print(f"  {order:<16}{table[order]['ndcg10']:>9.4f}{table[order]['top3']:>8.3f}")
    m, e = table["model"], table["eligible_first"]
    print(
        f"  eligible_first / model: ndcg@{cfg.k} x{e['ndcg10'] / m['ndcg10']:.4f}, "
        f"top-{cfg.top} x{e['top3'] / m['top3']:.4f}"
    )
    return {
        "eligible_median": float(np.median(counts)),
        "best_is_eligible": float(best_eligible),
        "best_not_eligible": why,
        "table": table,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure both kinds of pools and print the tables (and the settings they came from)."""
    base = Params.load().ranking
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=base.cases, help=f"simulated cases (default {base.cases})")
    ap.add_argument("--seed", type=int, default=base.seed, help=f"seed (default {base.seed}, params.yaml's)")
    args = ap.parse_args(argv)
    if args.cases < 1:
        ap.error("--cases must be at least 1")
    cfg = RankingConfig(**{**base.__dict__, "cases": args.cases, "seed": args.seed})
    start = time.perf_counter()
    model = load_production()
    scorer = model_scorer(model)
    print(
        f"production model {model.version}; relevance: the simulator's true match probability; seed {cfg.seed}"
    )

    pools = draw_pools(cfg)
    shape = pools.shape
    elig = eligible_of(pools.features, shape)
    model_scores = np.asarray(scorer(pools.features[list(FEATURES)]), dtype=float).reshape(shape)
    sk = ndcg_at(pools.truth, model_scores, cfg.k)
    mine = ndcg(pools.truth, model_scores, cfg.k)
    if abs(sk - mine) > 1e-9:
        print(f"NDCG check failed: scikit-learn {sk:.6f}, here {mine:.6f}", file=sys.stderr)
        return 1
    sim = report(
        "simulator pools (ranking.py)",
        pools.features,
        pools.truth,
        orders(model_scores, elig, pools.truth, cfg.seed),
        elig,
        cfg,
    )

    features, truth, elig_dir = directory_pools(cfg.cases, cfg.seed)
    dir_scores = np.asarray(scorer(features[list(FEATURES)]), dtype=float).reshape(truth.shape)
    directory = report(
        "directory pools (backend/data/lawyers.json)",
        features,
        truth,
        orders(dir_scores, elig_dir, truth, cfg.seed),
        elig_dir,
        cfg,
    )
    print(f"\nMeasured in {time.perf_counter() - start:.1f} s.")
    print(json.dumps({"simulator": sim, "directory": directory}, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
