"""The evaluation as a person reads it: a plain-text report and the ROC and calibration plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mlops.sidecar.equity import group_table
from mlops.sidecar.ranking import table_lines


def _metric_lines(result: dict[str, Any]) -> list[str]:
    """The headline metrics and the confusion matrix at threshold 0.5."""
    m, c = result["metrics"], result["confusion_matrix"]
    return [
        "Metrics (threshold 0.5 for the thresholded ones)",
        *[f"  {k:<10} {v:.4f}" for k, v in m.items()],
        f"  {'ece':<10} {result['ece']:.4f}",
        "",
        "Confusion matrix (rows: actual, columns: predicted)",
        "              pred 0  pred 1",
        f"  actual 0  {c['tn']:>8} {c['fp']:>7}",
        f"  actual 1  {c['fn']:>8} {c['tp']:>7}",
    ]


def _slice_lines(per_case_type: dict[str, dict[str, float]]) -> list[str]:
    """One row per case type: an average can hide a case type the model fails."""
    lines = [
        "Per case_type",
        f"  {'case_type':<14}{'rows':>6}{'pos.rate':>10}{'roc_auc':>9}{'f1':>8}{'accuracy':>10}",
    ]
    for name, s in per_case_type.items():
        row = f"  {name:<14}{s['rows']:>6}{s['positive_rate']:>10.3f}"
        lines.append(row + f"{s['roc_auc']:>9.4f}{s['f1']:>8.4f}{s['accuracy']:>10.4f}")
    return lines


def _group_lines(groups: dict[str, Any]) -> list[str]:
    """Quality by group on the equity evaluation set: production, and the newest candidate beside it."""
    beside = ", newest candidate beside it)" if "candidate" in groups else ")"
    lines = [
        f"Quality by group on the fixed equity evaluation set ({groups['rows']} rows; production{beside}"
    ]
    lines += group_table(groups["production"]["groups"])
    if "candidate" in groups:
        lines += ["", "Newest candidate by group (production's ROC AUC in the last column)"]
        lines += group_table(groups["candidate"]["groups"], groups["production"]["groups"])
    return lines


def report_text(result: dict[str, Any]) -> str:
    """The plain-text report for the person reviewing a model (from the evaluation's JSON form)."""
    lines = [
        f"Evaluation {result['run_name']} of production model {result['model_version']}",
        f"Data: {result['data']} (sha256 {result['data_sha256'][:12]}...), {result['test_rows']} held-out rows",
        "",
        *_metric_lines(result),
        "",
        *_slice_lines(result["per_case_type"]),
        "",
        *_group_lines(result["by_group"]),
        "",
        *table_lines(result["ranking"]),
    ]
    cand = result.get("newest_candidate")
    if cand:
        m = result["metrics"]
        lines += ["", f"Newest candidate {cand['version']} on the same rows"]
        lines += [f"  {k:<10} {v:.4f}  ({v - m[k]:+.4f} vs production)" for k, v in cand["metrics"].items()]
    return "\n".join(lines) + "\n"


def plots(y: np.ndarray, prob: np.ndarray, folder: Path) -> list[Path]:
    """ROC and calibration curves as PNG files, each against its diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, prob)
    frac, mean_pred = calibration_curve(y, prob, n_bins=10)
    curves = [
        ("roc.png", "ROC", fpr, tpr, "-", ("false positive rate", "true positive rate")),
        ("calibration.png", "Calibration", mean_pred, frac, "o-", ("predicted probability", "observed match rate")),
    ]  # fmt: skip # table: one curve a row
    paths = []
    for name, title, x, y_, style, (xlabel, ylabel) in curves:
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        ax.plot(x, y_, style, label="production")
        ax.plot([0, 1], [0, 1], "--", color="grey")
        ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
        ax.legend()
        fig.savefig(folder / name, dpi=80, bbox_inches="tight")
        plt.close(fig)
        paths.append(folder / name)
    return paths
