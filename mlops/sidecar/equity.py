"""Quality by group, and the equity guard: a candidate may not buy its average with one group's loss.

For a legal-aid service, whether the model is as good for a Vietnamese-speaking client with a low
income as for an English-speaking one matters as much as the average ROC AUC. Groups are the
values of ``client_language``, ``client_region``, ``case_type`` and an income band (cut points in
``params.yaml``: ``groups.income_bands``). Every figure carries its standard error, because a group
of 150 rows has an AUC uncertain by several points.

The guard (``equity_check``, pure) refuses a candidate when a group with at least
``gate.min_group_rows`` rows loses more than ``gate.max_group_auc_drop`` against production, more
than the model as a whole loses (or gains), and by more than two standard errors of the difference.
It measures on the fixed equity evaluation set (``mlops/data/equity_eval.csv``), not on the new data
version's own held-out rows: those carry whatever is wrong with that version (shuffled labels for
one group make both models look equally poor there).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd

from ml_model.metrics import expected_calibration_error

GROUP_COLUMNS = ("client_language", "client_region", "case_type", "income_band")
Z = 2.0  # standard errors a group's loss must exceed before it counts


def auc_se(auc: float, labels: Any) -> float:
    """Standard error of a ROC AUC (Hanley and McNeil, 1982): small groups must not raise alarms."""
    labels = np.asarray(labels)
    n1, n0 = int(labels.sum()), int(len(labels) - labels.sum())
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n1 - 1) * (q1 - auc**2) + (n0 - 1) * (q2 - auc**2)) / max(n1 * n0, 1)
    return float(max(var, 0.0) ** 0.5)


def income_band(income: pd.Series, cuts: list[float]) -> pd.Series:
    """Income bands named by their bounds, e.g. ``<15000``, ``15000-30000``, ``>=60000``."""
    cuts = sorted(float(c) for c in cuts)
    names = [f"<{cuts[0]:.0f}"] + [f"{a:.0f}-{b:.0f}" for a, b in itertools.pairwise(cuts)]
    names.append(f">={cuts[-1]:.0f}")
    bins = [-math.inf, *cuts, math.inf]
    return pd.cut(income, bins=bins, labels=names, right=False)  # ordered: tables list bands low to high


def group_metrics(
    df: pd.DataFrame, prob: Any, label: str, cuts: list[float]
) -> dict[str, dict[str, dict[str, float]]]:
    """Per group: rows, positive rate, mean predicted probability, AUC with its standard error, ECE."""
    from sklearn.metrics import roc_auc_score

    prob = np.asarray(prob, dtype=float)
    frame = df.assign(income_band=income_band(df["client_income"], cuts), _p=prob)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for column in GROUP_COLUMNS:
        out[column] = {}
        for value, rows in frame.groupby(column, sort=True, observed=True):
            y = rows[label].to_numpy()
            two = len(np.unique(y)) == 2
            auc = float(roc_auc_score(y, rows["_p"])) if two else math.nan
            out[column][str(value)] = {
                "rows": len(rows),
                "positive_rate": float(y.mean()),
                "mean_predicted": float(rows["_p"].mean()),
                "roc_auc": auc,
                "roc_auc_se": auc_se(auc, y) if two else math.nan,
                "ece": expected_calibration_error(y, rows["_p"].to_numpy()),
            }
    return out


def measure(df: pd.DataFrame, prob: Any, label: str, cuts: list[float]) -> dict[str, Any]:
    """What the guard compares: the overall ROC AUC and every group's metrics, on the same rows."""
    from sklearn.metrics import roc_auc_score

    return {"overall": float(roc_auc_score(df[label], prob)), "groups": group_metrics(df, prob, label, cuts)}


def equity_check(
    candidate: dict[str, Any], production: dict[str, Any], min_rows: int, max_drop: float
) -> tuple[bool, list[str]]:
    """The guard. Both arguments: ``{"overall": roc_auc, "groups": group_metrics(...)}`` on the same rows.

    Returns whether it holds and, for each group that fails, a sentence that names it.
    """
    overall = float(candidate["overall"]) - float(production["overall"])
    failures = []
    for column, values in candidate["groups"].items():
        for value, c in values.items():
            p = production["groups"].get(column, {}).get(value)
            if p is None or c["rows"] < min_rows or math.isnan(c["roc_auc"]) or math.isnan(p["roc_auc"]):
                continue
            delta = c["roc_auc"] - p["roc_auc"]
            se = math.hypot(c["roc_auc_se"], p["roc_auc_se"])
            if delta < -max_drop and delta < overall - max_drop and delta < -Z * se:
                failures.append(
                    f"{column}={value} ({c['rows']} rows) loses {-delta:.3f} ROC AUC against production "
                    f"({p['roc_auc']:.3f} -> {c['roc_auc']:.3f}, {Z:.0f} s.e. {Z * se:.3f}) while the whole "
                    f"set changes {overall:+.3f}"
                )
    return not failures, failures


def group_table(
    groups: dict[str, dict[str, dict[str, float]]], other: dict[str, Any] | None = None
) -> list[str]:
    """Plain-text lines: one row per group, with production's AUC beside it when given."""
    head = f"  {'group':<28}{'rows':>7}{'pos.rate':>10}{'mean p':>8}{'roc_auc':>9}{'± s.e.':>8}{'ece':>7}"
    lines = [head + (f"{'production':>12}" if other else "")]
    for column, values in groups.items():
        for value, m in values.items():
            line = f"  {column + '=' + value:<28}{m['rows']:>7}{m['positive_rate']:>10.3f}"
            line += f"{m['mean_predicted']:>8.3f}{m['roc_auc']:>9.4f}{m['roc_auc_se']:>8.4f}{m['ece']:>7.3f}"
            if other:
                line += f"{other[column][value]['roc_auc']:>12.4f}"
            lines.append(line)
    return lines


def auc_plot(measured: dict[str, dict[str, Any]], path: Any) -> None:
    """ROC AUC by group for each model (e.g. candidate and production), with two standard errors."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = next(iter(measured.values()))["groups"]
    labels = [f"{c}={v}" for c, values in first.items() for v in values]
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(labels) + 1.2))
    for k, (name, m) in enumerate(measured.items()):
        vals = [m["groups"][c][v] for c, values in first.items() for v in values]
        y = np.arange(len(labels)) + (k - 0.5) * 0.3
        ax.errorbar(
            [x["roc_auc"] for x in vals],
            y,
            xerr=[Z * x["roc_auc_se"] for x in vals],
            fmt="o",
            ms=3,
            label=name,
        )
    ax.set_yticks(np.arange(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set(xlabel="ROC AUC (± 2 s.e.)", title="ROC AUC by group")
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
