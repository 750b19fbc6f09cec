"""The daily history as an Evidently workspace: one project, two snapshots a day, a dashboard.

Evidently's own UI (``make monitor-ui``) draws a project's snapshots over time. Each served day
adds the day's column-drift snapshot (its share of drifted columns) and a small "numbers"
snapshot: the verdict, the estimated ROC AUC with its band, the realized ROC AUC and label count,
and the worst group, each charted as Evidently's ``MeanValue`` of a one-row table (FACTS: an
external number over time is drawn this way; a custom metric drew one-point series). Snapshots are
added without data (``include_data=False``): they hold scores and histogram bins, never a row.
When outcomes arrive for an old day its numbers snapshot is replaced; ``index.json`` maps each day
to its two snapshots (``drift``, ``numbers``) so a backfill replaces instead of doubling.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from ml_model.common import atomic_write_json
from mlops.sidecar.daily_day import DayRecord, day_time

PROJECT = "LegalAid Connect production, daily"
TAB = "Production over time"

# The numbers snapshot's columns: what each chart draws (a column missing on a day leaves a gap).
NUMBERS = {
    "drift": "Dataset drift (1 = DRIFT, 0 = NO DRIFT; absent on a NO VERDICT day)",
    "no_verdict": "NO VERDICT (1: too few rows to judge)",
    "estimated_roc_auc": "Estimated ROC AUC (CBPE, no labels)",
    "estimated_roc_auc_low": "Estimate: low end of its band",
    "estimated_roc_auc_high": "Estimate: high end of its band",
    "realized_roc_auc": "Realized ROC AUC (labelled pairs)",
    "estimated_on_labelled_low": "Estimate on the labelled pairs: low end of its band",
    "estimated_on_labelled_high": "Estimate on the labelled pairs: high end of its band",
    "labelled_pairs": "Labelled pairs",
    "estimated_worst_group_roc_auc": "Worst group, estimated ROC AUC",
    "realized_worst_group_roc_auc": "Worst group, realized ROC AUC",
    "reference_auc": "Reference ROC AUC (held-out, at training)",
}


def _panels() -> list[Any]:
    from evidently.sdk.panels import PanelMetric, bar_plot_panel, line_plot_panel, text_panel

    def mean(column: str, legend: str) -> Any:
        return PanelMetric(metric="MeanValue", metric_labels={"column": column}, legend=legend)

    return [
        text_panel(
            "How to read this",
            "One point per served UTC day. NO VERDICT days (too few rows) show in the NO VERDICT bars and "
            "have no drift point. The estimate needs no labels; under a change in the world itself (concept "
            "drift) it cannot move: there the realized ROC AUC, once outcomes arrive, is the alarm.",
        ),
        line_plot_panel(
            "Share of drifted columns",
            [
                PanelMetric(
                    metric="DriftedColumnsCount", metric_labels={"value_type": "share"}, legend="share"
                )
            ],
            size="half",
        ),
        bar_plot_panel(
            "Verdict: DRIFT (1) and NO VERDICT days",
            [mean("drift", "drift"), mean("no_verdict", "no verdict")],
            size="half",
        ),
        line_plot_panel(
            "Estimated ROC AUC (CBPE, no labels needed) of all the day's pairs, with its band",
            [
                mean("estimated_roc_auc", "estimated"),
                mean("estimated_roc_auc_low", "band low"),
                mean("estimated_roc_auc_high", "band high"),
                mean("reference_auc", "reference (held-out, at training)"),
            ],
        ),
        line_plot_panel(
            "Realized ROC AUC (pairs whose outcomes arrived) within the estimate's band on those pairs",
            [
                mean("realized_roc_auc", "realized"),
                mean("estimated_on_labelled_low", "band low"),
                mean("estimated_on_labelled_high", "band high"),
            ],
        ),
        bar_plot_panel(
            "Labelled pairs (outcomes arrived)", [mean("labelled_pairs", "labelled pairs")], size="half"
        ),
        line_plot_panel(
            "Worst group's ROC AUC",
            [
                mean("estimated_worst_group_roc_auc", "estimated"),
                mean("realized_worst_group_roc_auc", "realized"),
            ],
            size="half",
        ),
    ]


def numbers(rec: DayRecord) -> dict[str, float]:
    """The day's numbers for the dashboard (only those it has)."""
    values = rec.as_dict()
    out = {k: float(values[k]) for k in NUMBERS if values.get(k) is not None}
    if rec.verdict != "NO VERDICT":
        out["drift"] = float(rec.verdict == "DRIFT")
    out["no_verdict"] = float(rec.verdict == "NO VERDICT")
    return {k: v for k, v in out.items() if not math.isnan(v)}


def _numbers_snapshot(rec: DayRecord) -> Any:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import MeanValue

    values = numbers(rec)
    frame = pd.DataFrame({k: [v] for k, v in values.items()})
    definition = DataDefinition(numerical_columns=list(values))
    report = Report([MeanValue(column=c) for c in values], tags=["numbers"], metadata={"day": rec.day})
    return report.run(
        Dataset.from_pandas(frame, data_definition=definition), None, timestamp=day_time(rec.served_day)
    )


def expire_days(root: Path, before: date, apply: bool) -> list[str]:
    """The days before ``before`` whose snapshots go (``privacy.py expire``, the reports' limit);
    removed through Evidently's own API, and from the index, only with ``apply``."""
    index_path = root / "index.json"
    if not index_path.is_file():
        return []
    old = sorted(
        d for d in json.loads(index_path.read_text(encoding="utf-8")) if date.fromisoformat(d) < before
    )
    if apply and old:
        ws = DailyWorkspace(root)
        for day in old:
            for sid in ws.index.pop(day, {}).values():
                if sid:
                    ws.ws.delete_run(ws.project.id, sid)
        atomic_write_json(ws.index_path, ws.index)
    return old


@contextlib.contextmanager
def _private() -> Iterator[None]:
    """Evidently writes its files with the process's umask: the workspace's are 0600 in 0700 folders."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


class DailyWorkspace:
    """The project in ``root`` (created with its dashboard on first use) and the day index."""

    def __init__(self, root: Path) -> None:
        with _private():
            self._open(root)

    def _open(self, root: Path) -> None:
        from evidently.ui.workspace import Workspace

        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.root = root
        self.ws = Workspace(str(root))
        found = self.ws.search_project(PROJECT)
        if found:
            self.project = found[0]
        else:
            self.project = self.ws.create_project(PROJECT, description="One point per served day (UTC).")
            for panel in _panels():
                self.project.dashboard.add_panel(panel, tab=TAB)
        self.index_path = root / "index.json"
        self.index: dict[str, dict[str, str | None]] = (
            json.loads(self.index_path.read_text(encoding="utf-8")) if self.index_path.is_file() else {}
        )

    def put_day(self, rec: DayRecord, drift_snapshot: Any | None) -> None:
        """The day's snapshots, replacing its earlier ones (its drift snapshot is kept when none is given:
        outcomes that arrive later change the numbers, not the inputs' drift)."""
        with _private():
            self._put(rec, drift_snapshot)

    def _put(self, rec: DayRecord, drift_snapshot: Any | None) -> None:
        old = self.index.get(rec.day, {})
        ids = {"drift": old.get("drift") if drift_snapshot is None else None}
        for sid in old.values():
            if sid and sid != ids["drift"]:
                self.ws.delete_run(self.project.id, sid)
        if drift_snapshot is not None:
            ids["drift"] = str(self.ws.add_run(self.project.id, drift_snapshot, include_data=False).id)
        ids["numbers"] = str(self.ws.add_run(self.project.id, _numbers_snapshot(rec), include_data=False).id)
        self.index[rec.day] = ids
        atomic_write_json(self.index_path, self.index)
