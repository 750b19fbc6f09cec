"""A seeded simulator of the LegalAid Connect world: (client case, lawyer) pairs and their outcome.

Why a simulator: we have no real engagement history we may commit, and a known ground truth lets
anyone compute the Bayes-optimal ROC AUC (``--with-truth`` writes ``match_probability``), so
model quality is judged against what is achievable, not against a guess.

Marginals
---------
Case types lean to family and housing; client languages are mostly English and Spanish;
incomes are log-normal (median about 31k USD); complexity is 1-5 with most cases at 2-3.
Lawyers are sampled per pair: half the time from the case's own specialization (intake
pre-filters), otherwise at random; a shared language 55% of the time; the same region 40% of the
time, and then close by (gamma, median about 7 km), else 15-90 km away. Hourly rates are
log-normal around 180 USD and rise with experience; 8% of lawyers are pro bono (rate 0).

The truth (logit of the match probability)
------------------------------------------
``z = -0.5``
``+ 2.5 * spec_fit``                               specialization equals case type
``+ 1.8 * lang_match - 1.4 * (1 - lang_match) * (client_language != "en")``
``- 2.2 * (1 - exp(-distance_km / 25))``          distance decay
``- 2.6 * sigmoid((active_cases - 22) / 3)``      caseload overload
``- 2.4 * sigmoid((burden - 0.6) / 0.15)``        affordability, burden = rate * 40 h / (income / 12)
``- 0.11 * (urgency == "high") * (active_cases - 10)``    urgent cases need free lawyers
``+ 0.48 * (complexity - 2.5) * tanh((experience - 8) / 6)``  complex cases need experience
``+ 0.88 * (rating - 3.8)``
and ``match ~ Bernoulli(sigmoid(z))``. At the defaults the positive rate is about 27% and the
Bayes-optimal AUC about 0.885 (both printed by ``mlops/scripts/generate_data.py``).

Drift profiles (``--drift``)
----------------------------
- ``case_mix``: an immigration and employment surge with many more Spanish- and
  Arabic-speaking clients (case and language mix change; the truth does not).
- ``prices``: lawyers' rates rise about 60% and pro-bono lawyers become rare.
- ``population``: a poorer population (incomes down 45%) with more housing and family cases;
  the other columns do not move.
- ``concept``: the truth itself changes: remote hearings make distance and language barely
  matter and caseload matters far more; feature distributions stay the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml_model.schema import CASE_TYPES, COLUMNS, LANGUAGES, REGIONS, URGENCIES

DRIFT_PROFILES = ("none", "case_mix", "prices", "population", "concept")

CASE_P = np.array([0.12, 0.10, 0.14, 0.24, 0.13, 0.17, 0.10])  # order of CASE_TYPES
LANG_P = np.array([0.55, 0.22, 0.07, 0.05, 0.04, 0.07])  # order of LANGUAGES
REGION_P = np.array([0.22, 0.20, 0.18, 0.18, 0.22])
URGENCY_P = np.array([0.35, 0.45, 0.20])
COMPLEXITY_P = np.array([0.15, 0.30, 0.30, 0.17, 0.08])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _pick(rng: np.random.Generator, vocab: tuple[str, ...], p: np.ndarray, n: int) -> np.ndarray:
    return np.asarray(vocab, dtype=object)[rng.choice(len(vocab), size=n, p=p / p.sum())]


def true_logit(df: pd.DataFrame, concept: bool = False) -> np.ndarray:
    """The ground-truth logit of a match; ``concept=True`` is the drifted world."""
    spec_fit = (df["lawyer_specialization"] == df["case_type"]).to_numpy(float)
    lang_match = (df["lawyer_language"] == df["client_language"]).to_numpy(float)
    non_en = (df["client_language"] != "en").to_numpy(float)
    dist = df["distance_km"].to_numpy(float)
    active = df["lawyer_active_cases"].to_numpy(float)
    income = df["client_income"].to_numpy(float)
    rate = df["lawyer_hourly_rate"].to_numpy(float)
    burden = rate * 40.0 / np.maximum(income / 12.0, 100.0)
    high = (df["urgency"] == "high").to_numpy(float)
    cx = df["case_complexity"].to_numpy(float)
    exp_years = df["lawyer_experience_years"].to_numpy(float)
    rating = df["lawyer_rating"].to_numpy(float)

    w_lang, w_lang_barrier, w_dist, w_load = (1.8, 1.4, 2.2, 2.6)
    if concept:
        w_lang, w_lang_barrier, w_dist, w_load = (0.2, 0.0, 0.0, 6.4)
    return (
        -0.5
        + 2.5 * spec_fit
        + w_lang * lang_match
        - w_lang_barrier * (1 - lang_match) * non_en
        - w_dist * (1 - np.exp(-dist / 25.0))
        - w_load * _sigmoid((active - 22.0) / 3.0)
        - 2.4 * _sigmoid((burden - 0.6) / 0.15)
        - 0.11 * high * (active - 10.0)
        + 0.48 * (cx - 2.5) * np.tanh((exp_years - 8.0) / 6.0)
        + 0.88 * (rating - 3.8)
    )


@dataclass(frozen=True)
class Profile:
    """How a drift profile moves the population: case and language mix, incomes, prices."""

    case_p: np.ndarray
    lang_p: np.ndarray
    income_scale: float = 1.0
    rate_scale: float = 1.0
    pro_bono: float = 0.08


def profile(drift: str, balanced: bool = False) -> Profile:
    """The population of a drift profile (``concept`` moves the truth, not the population).

    ``balanced``: every case type and client language in equal shares, so a small group has enough
    rows to be measured (the equity evaluation set); the truth is the same.
    """
    if balanced:
        return Profile(
            np.full(len(CASE_TYPES), 1 / len(CASE_TYPES)), np.full(len(LANGUAGES), 1 / len(LANGUAGES))
        )
    if drift == "case_mix":
        return Profile(
            np.array([0.08, 0.08, 0.34, 0.14, 0.22, 0.08, 0.06]),
            np.array([0.30, 0.38, 0.06, 0.16, 0.04, 0.06]),
        )
    if drift == "prices":
        return Profile(CASE_P.copy(), LANG_P.copy(), rate_scale=1.6, pro_bono=0.01)
    if drift == "population":
        return Profile(np.array([0.22, 0.06, 0.08, 0.34, 0.10, 0.12, 0.08]), LANG_P.copy(), income_scale=0.55)
    return Profile(CASE_P.copy(), LANG_P.copy())


def draw_pairs(rng: np.random.Generator, n: int, pop: Profile) -> pd.DataFrame:
    """``n`` (case, lawyer) pairs without labels; the order of the draws is part of the seed's meaning."""
    case_type = _pick(rng, CASE_TYPES, pop.case_p, n)
    complexity = rng.choice(5, size=n, p=COMPLEXITY_P) + 1
    urgency = _pick(rng, URGENCIES, URGENCY_P, n)
    client_lang = _pick(rng, LANGUAGES, pop.lang_p, n)
    client_region = _pick(rng, REGIONS, REGION_P, n)
    income = np.round(rng.lognormal(np.log(31000 * pop.income_scale), 0.6, n), -1)
    spec = np.where(rng.random(n) < 0.5, case_type, _pick(rng, CASE_TYPES, np.ones(7), n))
    lawyer_lang = np.where(rng.random(n) < 0.55, client_lang, _pick(rng, LANGUAGES, LANG_P, n))
    same_region = rng.random(n) < 0.4
    lawyer_region = np.where(same_region, client_region, _pick(rng, REGIONS, REGION_P, n))
    near = lawyer_region == client_region
    distance = np.where(near, rng.gamma(2.0, 4.0, n), rng.uniform(15, 90, n))
    experience = np.clip(np.round(rng.gamma(2.2, 5.0, n), 1), 0, 45)
    rating = np.clip(np.round(rng.normal(3.9, 0.55, n), 1), 1.0, 5.0)
    active = rng.negative_binomial(4, 4 / (4 + 14.0), n)
    rate = rng.lognormal(np.log(150 * pop.rate_scale), 0.35, n) * (1 + 0.02 * experience)
    rate = np.where(rng.random(n) < pop.pro_bono, 0.0, np.round(rate, 0))
    return pd.DataFrame(
        {
            "case_type": case_type,
            "case_complexity": complexity.astype(np.int64),
            "urgency": urgency,
            "client_language": client_lang,
            "client_region": client_region,
            "client_income": income,
            "lawyer_specialization": spec,
            "lawyer_language": lawyer_lang,
            "lawyer_region": lawyer_region,
            "lawyer_experience_years": experience,
            "lawyer_rating": rating,
            "lawyer_active_cases": active.astype(np.int64),
            "lawyer_hourly_rate": rate,
            "distance_km": np.round(distance, 2),
        }
    )


def simulate(
    rows: int, seed: int, drift: str = "none", with_truth: bool = False, balanced: bool = False
) -> pd.DataFrame:
    """Draw ``rows`` pairs and their labels; the same arguments always give the same table."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    if drift not in DRIFT_PROFILES:
        raise ValueError(f"unknown drift profile {drift!r}; choose one of {', '.join(DRIFT_PROFILES)}")
    rng = np.random.default_rng(seed)
    df = draw_pairs(rng, rows, profile(drift, balanced))
    prob = _sigmoid(true_logit(df, concept=(drift == "concept")))
    df["match"] = (rng.random(rows) < prob).astype(np.int64)
    df = df[list(COLUMNS)]
    if with_truth:
        df["match_probability"] = np.round(prob, 6)
    return df


def bayes_auc(df: pd.DataFrame) -> float:
    """ROC AUC of the true probability: the best any model can do on these rows."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(df["match"], df["match_probability"]))
