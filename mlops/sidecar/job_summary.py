"""The MLOps job's summary: the gate's decision, the metrics, the drift verdict and how to promote.

Reads what the pipeline's steps left in the tracking folder (``last_retrain.json`` from
retrain_model.py, ``drift.json`` from monitor_model.py, ``production.json`` from
evaluate_model.py, and the verdict sentence of the same monitor run from
``drift_report_latest.json``, with its next steps as the report's header gives them) and builds one
Markdown section, which ``mlops/scripts/job_summary.py`` appends to ``$GITHUB_STEP_SUMMARY``
(GitHub shows it on the run's page). A file that is missing or unreadable is a warning (a GitHub annotation when run by Actions) and its part of the summary says
so: the summary must never fail the job that it describes.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from ml_model.paths import REPO_ROOT, SIGNATURE_FILE, TRUSTED_KEYS_DIR
from mlops.paths import DRIFT_LATEST, DRIFT_REPORT_LATEST, EVAL_LATEST, LAST_RETRAIN, REGISTERED_MODEL
from mlops.sidecar.drift_report import next_steps

log = logging.getLogger(__name__)

CANDIDATE_ARTIFACT = "mlops-candidate"  # the workflow's upload of mlops/models/v*/
PROMOTE = "python mlops/scripts/promote_model.py"


def load(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; ``{}`` with a warning when it is missing or not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, found {type(data).__name__}")
        return data
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        if os.environ.get("GITHUB_ACTIONS") == "true":
            print(f"::warning::cannot read {path}: {exc}", flush=True)  # an annotation on the run
        return {}


def fmt(value: Any) -> str:
    """A value for a Markdown table cell: yes/no, 4 decimals, an en dash for nothing, ``|`` escaped."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}"
    return "–" if value is None else str(value).replace("|", "\\|")


def _rel(path: Path) -> str:
    """A repository path as the summary names it (the default locations, as in the workflow)."""
    return str(path.relative_to(REPO_ROOT))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def retrain_lines(retrain: dict[str, Any], tracking_server: bool) -> list[str]:
    """The gate's decision, the metrics and checks, and for a saved candidate who signed it and how
    to promote it (also the scheduled job's, after a retrain the daily monitor started)."""
    if not retrain:
        return [f"No retrain record ({_rel(LAST_RETRAIN)}); see the step logs."]
    decision = retrain.get("decision") or {}
    candidate = retrain.get("candidate") or {}
    production = retrain.get("production") or {}
    verdict = "improved" if decision.get("improved") else "not improved"
    lines = [
        f"**Gate: candidate {fmt(retrain.get('version'))} {verdict}** "
        f"(production {fmt(retrain.get('production_version'))})",
        "",
        f"Reason: {decision.get('reason', '–')}",
        "",
        "| metric | candidate | production | change |",
        "| --- | ---: | ---: | ---: |",
    ]
    for metric in sorted(set(candidate) | set(production)):
        cand, prod = candidate.get(metric), production.get(metric)
        change = f"{cand - prod:+.4f}" if _number(cand) and _number(prod) else "–"
        lines.append(f"| {metric} | {fmt(cand)} | {fmt(prod)} | {change} |")
    checks = decision.get("checks") or {}
    if checks:
        lines += ["", "| gate check | passed |", "| --- | :---: |"]
        lines += [f"| {name} | {fmt(ok)} |" for name, ok in sorted(checks.items())]
    if retrain.get("saved_to"):
        lines += [
            "",
            f"Candidate saved to `{retrain['saved_to']}`.",
            "",
            signer_line(REPO_ROOT / retrain["saved_to"]),
            "",
        ]
        lines += _promotion_lines(retrain, tracking_server)
    return lines


def signer_line(candidate: Path) -> str:
    """Who signed the candidate, and whether production (the committed ``keys/trusted/``) trusts it."""
    record = load(candidate / SIGNATURE_FILE)
    kid = record.get("key_id")
    if not kid:
        return (
            f"**The candidate is not signed ({_rel(candidate / SIGNATURE_FILE)}); no production loads it.**"
        )
    if (TRUSTED_KEYS_DIR / f"{kid}.pub").is_file():
        return f"Signed by key `{fmt(kid)}`, which production trusts (`{_rel(TRUSTED_KEYS_DIR)}/{fmt(kid)}.pub`)."
    return (
        f"**Signed by key `{fmt(kid)}`, which `{_rel(TRUSTED_KEYS_DIR)}/` does not hold: production elsewhere "
        "will refuse it.** Set the secret `MODEL_SIGNING_KEY` to a key whose public key is committed "
        "there (keys/README.md)."
    )


def _promotion_lines(retrain: dict[str, Any], tracking_server: bool) -> list[str]:
    """How a person promotes the saved candidate (this job never does).

    promote_model.py moves the registry alias ``champion`` to the version the candidate's manifest
    names only in the registry the candidate was registered in: the tracking server when there is
    one; a runner's file store stays on the runner (its paths are absolute), so it is not offered.
    """
    version = fmt(retrain.get("version"))
    registered = retrain.get("registered_version")
    as_version = f" (version {fmt(registered)})" if registered else ""
    download = (
        f"download this run's `{CANDIDATE_ARTIFACT}` artifact into `mlops/models/` (it holds `{version}/`)"
    )
    by_version = f"`{PROMOTE} --version {version}` (`--dry-run` first to only verify)"
    lines = [
        "### To promote this candidate",
        "",
        "A person decides; this job never touches production. In a checkout of this commit, either:",
        "",
    ]
    if tracking_server:
        return [
            *lines,
            f"- with `MLFLOW_TRACKING_URI` set to this job's tracking server (and the promoter's "
            "`MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD` when it needs them), where the candidate is "
            f"`{REGISTERED_MODEL}`{as_version} with alias `challenger`: `{PROMOTE} --from-registry challenger`;",
            f"- or {download}, then, with the same `MLFLOW_TRACKING_URI`, {by_version}.",
        ]
    return [
        *lines,
        f"- {download}, then {by_version}. It is registered as `{REGISTERED_MODEL}`{as_version} only in "
        "this runner's file store, so the alias `champion` is not moved elsewhere;",
        "- or, once the workflow has a tracking server (`MLFLOW_TRACKING_URI`), straight from its "
        f"registry: `{PROMOTE} --from-registry challenger`.",
    ]


def _next_lines(report: dict[str, Any] | None) -> list[str]:
    """The report's "What to do next", as in its HTML header; nothing when the record lacks it."""
    try:
        steps = next_steps(report or {})
    except (KeyError, TypeError, ValueError):  # an older or partial record: the verdict line still shows
        return []
    return ["", "What to do next:", "", *[f"{i}. {step}" for i, step in enumerate(steps, 1)]]


def _drift_lines(drift: dict[str, Any], report: dict[str, Any] | None = None) -> list[str]:
    lines = ["### Data drift", ""]
    if not drift:
        return [*lines, f"No drift result ({_rel(DRIFT_LATEST)})."]
    judged = "drift" in drift  # the stage writes no verdict below monitor.min_rows
    if report and report.get("verdict"):  # the monitor's own sentence, the same as its HTML and log
        lines += [f"**{fmt(report['verdict'])}**", ""]
    elif not judged:
        lines += ["**NO VERDICT: too few current rows for a drift verdict (monitor.min_rows)**", ""]
    if not judged:  # no column is judged either, so none is named (the scores are in the JSON report)
        lines.append(
            "No column is judged below `monitor.min_rows`; the scores are in the monitor's JSON report."
        )
        return lines + _next_lines(report)
    drifted = (report or {}).get("drifted_columns")
    names = None if drifted is None else ", ".join(drifted) or "none"
    head = "| dataset drift | share of drifted columns | drifted columns |"
    row = f"| {fmt(drift.get('drift'))} | {fmt(drift.get('drifted'))} | {fmt(names)} |"
    return [*lines, head, "| :---: | ---: | :--- |", row, *_next_lines(report)]


def _evaluation_lines(evaluation: dict[str, Any], version: str | None = None) -> list[str]:
    if not evaluation:
        return [f"No evaluation of the production model ({_rel(EVAL_LATEST)})."]
    # the DVC metric holds numbers only; the version is the retrain record's (the same production)
    lines = [f"### Production model {fmt(evaluation.get('model_version') or version)}", ""]
    lines += ["| metric | value |", "| --- | ---: |"]
    lines += [f"| {name} | {fmt(value)} |" for name, value in sorted(evaluation.items()) if _number(value)]
    return lines


def summary_markdown(
    retrain: dict[str, Any],
    drift: dict[str, Any],
    evaluation: dict[str, Any],
    *,
    tracking_server: bool = False,
    drift_report: dict[str, Any] | None = None,
) -> str:
    """The summary in Markdown, from the three records (each ``{}`` when missing).

    ``tracking_server``: the run logged to an MLflow tracking server (not the runner's file store),
    so a saved candidate can also be promoted from that server's registry.
    """
    lines = ["## MLOps pipeline", ""]
    lines += retrain_lines(retrain, tracking_server)
    lines += ["", *_drift_lines(drift, drift_report)]
    lines += ["", *_evaluation_lines(evaluation, retrain.get("production_version"))]
    return "\n".join(lines) + "\n"


def uses_tracking_server(uri: str | None) -> bool:
    """True when ``MLFLOW_TRACKING_URI`` names a tracking server (http or https)."""
    return (uri or "").strip().lower().startswith(("http://", "https://"))


def summary_from(tracking: Path) -> str:
    """The summary of what the pipeline left in ``tracking`` (the files named in the module docstring)."""
    report = tracking / DRIFT_REPORT_LATEST.name
    return summary_markdown(
        load(tracking / LAST_RETRAIN.name),
        load(tracking / DRIFT_LATEST.name),
        load(tracking / EVAL_LATEST.name),
        tracking_server=uses_tracking_server(os.environ.get("MLFLOW_TRACKING_URI")),
        drift_report=load(report) if report.exists() else {},
    )
