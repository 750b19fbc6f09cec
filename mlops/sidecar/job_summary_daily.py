"""The scheduled job's summary: what the daily monitor saw in this run, and the loop it started.

Reads ``daily_summary.json``, which ``monitor_model.py --store ... --daily`` writes
(``mlops/sidecar/daily.py``), and, when the persistent-drift rule fired (the monitor's exit 3),
the retrain's ``last_retrain.json``. One Markdown section: a first line that says what happened
(no persistent drift, persistent drift from a day, a data gap, or a monitor that failed), the days
monitored in this run as a table, the alert and its reasons, the data alerts, why the estimate is
not the alarm for concept drift, and after a retrain the gate's decision and how a person promotes.
Like the pipeline's summary it never fails: a missing record is said, not invented.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import yaml

from ml_model.paths import REPO_ROOT
from mlops.paths import DAILY_DIR, LAST_RETRAIN
from mlops.sidecar.job_summary import fmt, load, retrain_lines, uses_tracking_server
from mlops.sidecar.persistence import DailyConfig

DAILY_SUMMARY = "daily_summary.json"  # in DAILY_DIR, mlops/reports/daily/
DRIFT, GAP = 3, 4  # the daily monitor's exits: the rule fired; a data gap alone
CONCEPT_NOTE = (
    "The estimated ROC AUC comes from the served probabilities alone (CBPE), so it cannot see concept "
    "drift, a change in which matches succeed while the inputs look the same: once outcomes arrive, "
    "the realized ROC AUC is the alarm for that."
)
FILE_STORE_NOTE = (
    "The daily history is this runner's MLflow file store (no `MLFLOW_TRACKING_URI`): every scheduled "
    "run starts it afresh, monitors every day of the store again and alerts an ongoing episode again. "
    "Set `MLFLOW_TRACKING_URI` to the tracking server to keep it between runs."
)


def exit_code_arg(text: str) -> int | None:
    """A command-line exit code; "" (a step output that was never written) is unknown (None)."""
    if not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an exit code: {text!r}") from None


def monitor_exit_of(daily: dict[str, Any]) -> int:
    """The exit the monitor gave for this summary: 3 with a new episode, 4 with a data gap alone, 0."""
    if daily.get("alerts"):
        return DRIFT
    return GAP if daily.get("data_alerts") else 0


def rule_text(params_file: Path) -> str | None:
    """The persistent-drift rule in words (``params.yaml`` ``daily``), or None when it cannot be read."""
    try:
        return DailyConfig.from_params(
            yaml.safe_load(params_file.read_text(encoding="utf-8")) or {}
        ).describe()
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError):
        return None


def _auc(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "–"


def _estimate_cell(rec: dict[str, Any]) -> str:
    if rec.get("estimated_roc_auc") is None:
        note = rec.get("estimate_note") or "no estimate"
        return f"– ({fmt(note)})"
    cell = (
        f"{_auc(rec['estimated_roc_auc'])} "
        f"[{_auc(rec.get('estimated_roc_auc_low'))}, {_auc(rec.get('estimated_roc_auc_high'))}]"
    )
    return cell + (" (unreliable)" if rec.get("estimate_reliable") is False else "")


def _realized_cell(rec: dict[str, Any]) -> str:
    labels = rec.get("labelled_pairs") or 0
    return f"{_auc(rec.get('realized_roc_auc'))} ({labels:,} labels)"


def _fails_cell(rec: dict[str, Any]) -> str:
    failing = rec.get("failing") or []
    return "yes: " + fmt("; ".join(failing)) if failing else "no"


def days_table(daily: dict[str, Any]) -> list[str]:
    """The days this run monitored, and the earlier days whose outcomes arrived in it, one row each."""
    monitored, updated = set(daily.get("monitored") or []), set(daily.get("updated") or [])
    rows = [r for r in daily.get("history") or [] if r.get("day") in monitored | updated]
    if not rows:
        return ["No day was monitored in this run: the store holds no complete day the history lacks."]
    lines = [
        "| day | verdict | share drifted | estimated ROC AUC [band] | realized ROC AUC | fails the rule? |",
        "| --- | :---: | ---: | :---: | :---: | :--- |",
    ]
    for rec in sorted(rows, key=lambda r: str(r["day"])):
        day = fmt(rec["day"]) + ("" if rec["day"] in monitored else " (outcomes arrived)")
        lines.append(
            f"| {day} | {fmt(rec.get('verdict'))} | {fmt(rec.get('share_drifted'))} | "
            f"{_estimate_cell(rec)} | {_realized_cell(rec)} | {_fails_cell(rec)} |"
        )
    return lines


def _first_line(daily: dict[str, Any], code: int | None, rule: str) -> str:
    alerts, monitored = daily.get("alerts") or [], daily.get("monitored") or []
    if code == DRIFT and alerts:
        return (
            f"**PERSISTENT DRIFT from {fmt(alerts[0].get('first_day'))}** ({rule}): the retraining "
            "loop ran (below). A person decides whether to promote."
        )
    if code == GAP:
        return "**DATA GAP**: the monitor cannot judge what was not shipped; the run fails so that someone looks."
    if code not in (0, DRIFT):
        return f"**The daily monitor failed (exit {fmt(code)})**; see its step's log."
    if not monitored:
        return f"**No persistent drift**: nothing new to monitor (as of {fmt(daily.get('as_of'))})."
    return f"**No persistent drift**: {len(monitored)} day(s) monitored in this run; the rule ({rule}) did not fire."


def _alert_lines(daily: dict[str, Any], rule: str) -> list[str]:
    lines = []
    for alert in daily.get("alerts") or []:
        lines += [
            "### Alert",
            "",
            f"**Persistent drift from {fmt(alert.get('first_day'))}** (episode {fmt(alert.get('first_day'))} "
            f"to {fmt(alert.get('last_day'))}; the rule: {rule}). Why the days failed:",
            "",
            *[f"- {fmt(reason)}" for reason in alert.get("reasons") or []],
            "",
        ]
    gaps = daily.get("data_alerts") or []
    if gaps:
        lines += ["### Data alerts", "", *[f"- {fmt(gap)}" for gap in gaps], ""]
    return lines


def daily_markdown(
    daily: dict[str, Any],
    retrain: dict[str, Any] | None = None,
    *,
    monitor_exit: int | None = None,
    rule: str | None = None,
    tracking_server: bool = False,
) -> str:
    """The scheduled job's section, from the daily summary (``{}`` when missing) and, after exit 3,
    the retrain record. ``monitor_exit`` None: taken from the summary's alerts."""
    rule = rule or "the persistent-drift rule of params.yaml"
    lines = ["## Daily drift monitor", ""]
    if not daily:
        code = "–" if monitor_exit is None else monitor_exit
        where = (DAILY_DIR / DAILY_SUMMARY).relative_to(REPO_ROOT)
        lines += [f"No daily summary ({where}; the monitor's exit: {code})."]
        lines += ["See the monitor step's log."]
        return "\n".join(lines) + "\n"
    code = monitor_exit_of(daily) if monitor_exit is None else monitor_exit
    lines += [
        _first_line(daily, code, rule),
        "",
        "### Days monitored in this run",
        "",
        *days_table(daily),
        "",
    ]
    lines += _alert_lines(daily, rule)
    lines += [CONCEPT_NOTE, ""]
    if not tracking_server:
        lines += [FILE_STORE_NOTE, ""]
    if code == DRIFT:
        lines += ["### The retrain on the store's labelled data", ""]
        lines += retrain_lines(retrain or {}, tracking_server)
    return "\n".join(lines).rstrip("\n") + "\n"


def daily_summary_from(
    daily_dir: Path, tracking: Path, params_file: Path, monitor_exit: int | None = None
) -> str:
    """The section from what the scheduled job left: the daily summary, and the retrain record when
    the rule fired (a retrain record of another run is never read)."""
    daily = load(daily_dir / DAILY_SUMMARY)
    code = monitor_exit if monitor_exit is not None or not daily else monitor_exit_of(daily)
    retrain = load(tracking / LAST_RETRAIN.name) if code == DRIFT else None
    return daily_markdown(
        daily,
        retrain,
        monitor_exit=code,
        rule=rule_text(params_file),
        tracking_server=uses_tracking_server(os.environ.get("MLFLOW_TRACKING_URI")),
    )
