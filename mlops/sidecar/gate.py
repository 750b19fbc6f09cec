"""The promotion gate: a pure function from metrics and thresholds to a decision and its reason.

Pure so that it is tested on its own, logged with its inputs, and cannot depend on anything but
the numbers it is given. Both metric sets must come from the same held-out rows.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from mlops.sidecar.config import GateThresholds
from mlops.sidecar.equity import equity_check
from mlops.sidecar.ranking_guard import RankingComparison, ranking_check


@dataclass(frozen=True)
class Decision:
    """The gate's answer: improved or not, the reason in words, and each check's outcome."""

    improved: bool
    reason: str
    checks: dict[str, bool]

    def as_dict(self) -> dict[str, Any]:
        """The JSON form logged beside the candidate."""
        return asdict(self)


def _value(metrics: dict[str, float], name: str) -> float:
    """A metric as a float; missing or not a number is NaN, which fails every check."""
    v = metrics.get(name)
    return float(v) if isinstance(v, (int, float)) and not math.isnan(v) else math.nan


def _guard_checks(
    candidate: dict[str, float], production: dict[str, float], max_drop: dict[str, float]
) -> tuple[dict[str, bool], list[str]]:
    """For each guard metric, candidate >= production - its allowed drop; with the failures in words."""
    checks, reasons = {}, []
    for name, drop in sorted(max_drop.items()):
        c, p = _value(candidate, name), _value(production, name)
        checks[f"{name}_guard"] = c >= p - drop
        if not checks[f"{name}_guard"]:
            reasons.append(f"candidate {name} {c:.4f} falls more than {drop:.4f} below production's {p:.4f}")
    return checks, reasons


def decide(
    candidate: dict[str, float],
    production: dict[str, float],
    thresholds: GateThresholds,
    equity: dict[str, dict[str, Any]] | None = None,
    ranking: RankingComparison | None = None,
) -> Decision:
    """Improved means all of: candidate roc_auc >= ``min_roc_auc``; candidate roc_auc >= production
    roc_auc + ``min_delta``; for each guard metric in ``max_drop``, candidate >= production - drop;
    and, when ``equity`` (``{"candidate": ..., "production": ...}`` on the fixed evaluation set) is
    given, no group loses materially more than the whole (``equity.equity_check``); and, when
    ``ranking`` (both models on the same pools) is given and ``max_ranking_drop`` names metrics, no
    ranking metric falls beyond its allowed drop and noise (``ranking_guard.ranking_check``).
    Any missing or NaN metric fails its check (a model we cannot score is not an improvement)."""
    c_auc, p_auc = _value(candidate, "roc_auc"), _value(production, "roc_auc")
    floor, delta = thresholds.min_roc_auc, thresholds.min_delta
    checks = {"roc_auc_floor": c_auc >= floor, "roc_auc_beats_production": c_auc >= p_auc + delta}
    reasons: list[str] = []
    if not checks["roc_auc_floor"]:
        reasons.append(f"candidate roc_auc {c_auc:.4f} is below the floor {floor:.4f}")
    if not checks["roc_auc_beats_production"]:
        reasons.append(f"candidate roc_auc {c_auc:.4f} does not beat production's {p_auc:.4f} by {delta:.4f}")
    guards, failed = _guard_checks(candidate, production, dict(thresholds.max_drop))
    checks.update(guards)
    reasons += failed
    if equity is not None:
        fair, failures = equity_check(
            equity["candidate"],
            equity["production"],
            thresholds.min_group_rows,
            thresholds.max_group_auc_drop,
        )
        checks["equity_guard"] = fair
        reasons += [f"equity guard: {f}" for f in failures]
    if ranking is not None and thresholds.max_ranking_drop:
        holds, failures = ranking_check(ranking, dict(thresholds.max_ranking_drop))
        checks["ranking_guard"] = holds
        reasons += [f"ranking guard: {f}" for f in failures]
    if all(checks.values()):
        gain = c_auc - p_auc
        return Decision(
            True,
            f"candidate roc_auc {c_auc:.4f} beats production's {p_auc:.4f} by {gain:+.4f}; guards hold",
            checks,
        )
    return Decision(False, "; ".join(reasons), checks)
