"""The promotion gate: a pure function from metrics and thresholds to a decision and its reason.

Pure so that it is tested on its own, logged with its inputs, and cannot depend on anything but
the numbers it is given. Both metric sets must come from the same held-out rows.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from mlops.scripts.equity import equity_check


@dataclass(frozen=True)
class Decision:
    """The gate's answer: improved or not, the reason in words, and each check's outcome."""

    improved: bool
    reason: str
    checks: dict[str, bool]

    def as_dict(self) -> dict[str, Any]:
        """The JSON form logged beside the candidate."""
        return asdict(self)


def decide(
    candidate: dict[str, float],
    production: dict[str, float],
    thresholds: dict[str, Any],
    equity: dict[str, dict[str, Any]] | None = None,
) -> Decision:
    """Improved means all of: candidate roc_auc >= ``min_roc_auc``; candidate roc_auc >= production
    roc_auc + ``min_delta``; for each guard metric in ``max_drop``, candidate >= production - drop;
    and, when ``equity`` (``{"candidate": ..., "production": ...}`` on the fixed evaluation set) is
    given, no group loses materially more than the whole (``equity.equity_check``).
    Any missing or NaN metric fails its check (a model we cannot score is not an improvement)."""

    def val(metrics: dict[str, float], name: str) -> float:
        v = metrics.get(name)
        return float(v) if isinstance(v, (int, float)) and not math.isnan(v) else math.nan

    c_auc, p_auc = val(candidate, "roc_auc"), val(production, "roc_auc")
    floor, delta = float(thresholds["min_roc_auc"]), float(thresholds["min_delta"])
    checks: dict[str, bool] = {
        "roc_auc_floor": c_auc >= floor,
        "roc_auc_beats_production": c_auc >= p_auc + delta,
    }
    reasons: list[str] = []
    if not checks["roc_auc_floor"]:
        reasons.append(f"candidate roc_auc {c_auc:.4f} is below the floor {floor:.4f}")
    if not checks["roc_auc_beats_production"]:
        reasons.append(f"candidate roc_auc {c_auc:.4f} does not beat production's {p_auc:.4f} by {delta:.4f}")
    for name, drop in sorted(thresholds.get("max_drop", {}).items()):
        c, p = val(candidate, name), val(production, name)
        ok = c >= p - float(drop)
        checks[f"{name}_guard"] = ok
        if not ok:
            reasons.append(
                f"candidate {name} {c:.4f} falls more than {float(drop):.4f} below production's {p:.4f}"
            )
    if equity is not None:
        fair, failures = equity_check(
            equity["candidate"], equity["production"],
            int(thresholds["min_group_rows"]), float(thresholds["max_group_auc_drop"]),
        )  # fmt: skip
        checks["equity_guard"] = fair
        reasons += [f"equity guard: {f}" for f in failures]
    improved = all(checks.values())
    if improved:
        reason = f"candidate roc_auc {c_auc:.4f} beats production's {p_auc:.4f} by {c_auc - p_auc:+.4f}; guards hold"
    else:
        reason = "; ".join(reasons)
    return Decision(improved, reason, checks)
