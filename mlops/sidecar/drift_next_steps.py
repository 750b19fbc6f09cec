"""What the on-call person does next, for each verdict of the drift report: commands, in order.

The page's header, the job summary and the docs say the same steps; a test runs each named
command's ``--help`` with the arguments given here, so a step never names a flag that is gone.
"""

from __future__ import annotations

from typing import Any

from mlops.sidecar.drift import Verdict


def verdict_word(result: dict[str, Any]) -> str:
    """DRIFT, NO DRIFT or NO VERDICT (too few rows) of a report's JSON: the word every view leads with."""
    return Verdict(result["dataset_drift"], result["enough_data"], tuple(result["reasons"])).word


# The commands the next steps name; tests run each one's --help with these arguments.
LOG = "logs/predictions.jsonl"
EXPORT = "cd backend && npm run export-outcomes"
DATASET = "mlops/data/matchmaking_dataset.csv"
EQUITY = "mlops/data/equity_eval.csv"
RETRAIN = "dvc repro mlops/dvc.yaml"


def _plain(value: Any) -> str:
    """A value from the run (a path, a column) inside a step: no backtick can open or close code."""
    return str(value).replace("`", "'")


def _collect(since: bool) -> str:
    window = "--since <ISO date the fall began>" if since else "--min-age-days 30"
    return (
        f"`python mlops/scripts/collect_feedback.py --predictions {LOG} --outcomes <export.jsonl> "
        f"--out {DATASET} {window}`"
    )


def next_steps(result: dict[str, Any]) -> list[str]:
    """What the on-call person does next for this verdict, in plain sentences (commands in backticks).

    DRIFT on the inputs: look at the columns first (a fault upstream is fixed there, not learnt),
    then a labelled data version from production and a retrain that the gate judges and a person
    promotes. Concept drift (labelled ROC AUC fell): the equity evaluation set and the training
    data must come from today's world. NO VERDICT: more rows, then run again. NO DRIFT: nothing.
    """
    word = verdict_word(result)
    rule, rows = result["rule"], result["rows"]
    if word == "NO VERDICT":
        return [
            f"Collect at least {rule['min_rows']:,} current rows (this run had {rows['tested']:,}) and run "
            "the monitor again: `python mlops/scripts/monitor_model.py --current "
            f"{_plain(result['current'])}`.",
            "Until then nothing is judged, either way: this run reports neither drift nor its absence.",
        ]
    quality = result.get("classification_quality")
    if word == "NO DRIFT":
        held = " and production's ROC AUC holds on the labelled rows" if quality else ""
        steps = [
            f"Nothing to do: the inputs are within the rule{held}. Run the monitor again when new traffic "
            "has come in: `python mlops/scripts/monitor_model.py`."
        ]
        if not quality:
            steps.append(
                "Concept drift was not checked (no labelled rows). With the backend's outcome export "
                f"(`{EXPORT}`), `python mlops/scripts/monitor_model.py --current {LOG} --outcomes "
                "<export.jsonl>` checks it too."
            )
        return steps
    kinds = set(result.get("drift_kinds") or ["inputs"])
    steps = []
    if "inputs" in kinds:
        cols = ", ".join(_plain(c) for c in result["drifted_columns"]) or "none"
        steps.append(
            f"Look at the drifted columns ({cols}) in Evidently's sections below: a real change in who "
            "asks for help, or a fault upstream (a form, a unit, a new category)? Fix a fault at its "
            "source; a retrain would learn it."
        )
    if "concept" in kinds:
        cur = quality["current"]["roc_auc"] if quality else float("nan")
        ref = quality["reference"]["roc_auc"] if quality else float("nan")
        steps.append(
            f"The world answers differently (concept drift: ROC AUC {cur:.4f} on labelled rows against "
            f"{ref:.4f} held out). Refresh the equity evaluation set (`mlops/params.yaml` `equity_eval`): "
            "recent outcomes sampled per group and checked by a person, or the simulator's `python "
            f"mlops/scripts/generate_data.py --rows 30000 --seed <new seed> --balanced --drift concept "
            f"--out {EQUITY}`; then `dvc add {EQUITY}`."
        )
    source = "recent labelled data" if "concept" in kinds else "a labelled data version from production"
    steps.append(
        f"Build {source}: `{EXPORT}`, then {_collect('concept' in kinds)}, then `dvc add {DATASET}`."
    )
    steps.append(
        f"Retrain: `{RETRAIN}` (or `python mlops/scripts/retrain_model.py`). The gate decides whether "
        "the candidate beats production; a person promotes it (`python mlops/scripts/promote_model.py "
        "--version <candidate> --dry-run`, then without `--dry-run`). Nothing is promoted automatically."
    )
    return steps
