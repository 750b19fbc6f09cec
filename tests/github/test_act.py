"""The workflow .github/workflows/mlops.yml run for real, with act, on a fresh clone (tests/support/act.py).

- A manual dispatch with nothing configured: every step passes, the job summary has the gate's
  decision and the metrics, the drift and evaluation reports are uploaded, and the job ran in an
  environment of its own (the project's venv still serves this work tree).
- A push of a new data version (a concept change, `dvc add` + `dvc push` to a remote the job reaches
  by the variable DVC_REMOTE): the gate says improved and the `mlops-candidate` artifact holds a set
  that verifies and that promote_model.py promotes in another fresh copy. Without DVC_REMOTE the
  same push fails in the data step, which says what to configure (bootstrap_data.py on its own:
  tests/mlops/test_bootstrap_data.py).

Each act run prints its wall time (run pytest with -s to see it).
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from ml_model.paths import ARTIFACT_FILES, MANIFEST_FILE, REPO_ROOT, SIGNATURE_FILE
from tests.support.act import (
    ActRun,
    check,
    ci_key,
    commit_new_data_version,
    fresh_clone,
    run_act,
    workflow_step_names,
)
from tests.support.repo import VENV_BIN, Repo

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

# Fewer epochs than params.yaml's 15 keep a retrain short; on a concept change the candidate still
# beats production by far more than the gate's min_delta.
EPOCHS = 5
NEW_DATA_SEED = 11
DVC = str(VENV_BIN / "dvc")
CANDIDATE_FILES = {*ARTIFACT_FILES, SIGNATURE_FILE, MANIFEST_FILE, "metrics.json"}
HOST_SITE = Path(sysconfig.get_paths()["purelib"])  # this venv's site-packages


def host_ml_model() -> str:
    """Where the project's venv imports ml_model from, outside any copy (no PYTHONPATH, cwd /)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    cmd = [sys.executable, "-c", "import ml_model; print(ml_model.__file__)"]
    return check(
        subprocess.run(cmd, cwd="/", env=env, capture_output=True, text=True, timeout=60)
    ).stdout.strip()


def site_packages_listing() -> set[str]:
    return set(os.listdir(HOST_SITE))


def assert_all_steps_passed(run: ActRun, clone: Path) -> None:
    assert run.returncode == 0 and "Job succeeded" in run.output, run.tail()
    steps = run.steps()
    for name in workflow_step_names(clone):
        assert steps.get(name) == "Success", (name, steps, run.tail())
    assert "Failure" not in steps.values(), steps


def assert_job_had_its_own_environment(run: ActRun, work: Path, before: set[str]) -> None:
    """The job imported the act checkout's code from its own venv; the project's venv is untouched."""
    checkout = (work / "act-cache").resolve()
    (direct_url,) = run.job_venv.glob(
        "lib/python3.11/site-packages/legalaid_connect-*.dist-info/direct_url.json"
    )
    job_install = json.loads(direct_url.read_text())
    assert job_install["dir_info"] == {"editable": True}
    assert job_install["url"].startswith(checkout.as_uri()) and job_install["url"].endswith("/hostexecutor")
    # the retrain read ml_model.paths from the checkout: its data path is there
    assert run.step_log(f"{checkout}/"), run.tail()
    assert any("hostexecutor/mlops/data/matchmaking_dataset.csv" in line for line in run.step_log("Data ")), (
        run.tail()
    )
    # and the project's venv still serves the project's work tree
    assert host_ml_model() == str(REPO_ROOT / "ml_model" / "__init__.py")
    (host_url,) = HOST_SITE.glob("legalaid_connect-*.dist-info/direct_url.json")
    assert json.loads(host_url.read_text())["url"] == REPO_ROOT.as_uri()
    assert site_packages_listing() == before


# ---------------------------------------------------------------------------- manual dispatch


def test_manual_dispatch_with_nothing_configured(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path / "clone", epochs=EPOCHS)
    before = site_packages_listing()
    run = run_act(clone.root, "workflow_dispatch", tmp_path / "act")
    print(f"\nact workflow_dispatch (nothing configured): {run.seconds:.1f} s wall")
    assert_all_steps_passed(run, clone.root)

    # the data: pulled from the default remote or recreated from the first version
    assert run.step_log("Pulled ") or run.step_log("Recreated "), run.tail()
    summary = run.summary()
    assert "## MLOps pipeline" in summary, run.tail()
    assert "**Gate: candidate v" in summary and "Reason: " in summary, summary
    assert "| metric | candidate | production | change |" in summary
    assert "| roc_auc | " in summary and "| gate check | passed |" in summary
    assert "### Data drift" in summary and "### Production model v" in summary

    reports = run.artifacts / "mlops-reports"
    assert list(reports.glob("evaluation_*.txt")), sorted(run.artifacts.rglob("*"))
    assert list(reports.glob("data_drift_report_*.html")) and list(reports.glob("data_drift_report_*.json"))
    tracking = run.artifacts / "mlops-tracking"
    retrain = json.loads((tracking / "last_retrain.json").read_text())
    assert retrain["candidate"]["roc_auc"] > 0.5
    assert not any(p.name.startswith(".") for p in tracking.rglob("*"))  # no lock files
    # a candidate is uploaded exactly when the gate kept one
    improved = retrain["decision"]["improved"]
    assert (run.artifacts / "mlops-candidate").is_dir() == improved
    assert ("not improved**" in summary) == (not improved)

    assert_job_had_its_own_environment(run, tmp_path / "act", before)


# ---------------------------------------------------------------------------- a new data version


@pytest.fixture(scope="module")
def data_push(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repo, str]:
    """A fresh clone whose last commit is a new data version (a concept change) pushed to the DVC
    remote ``ci`` (a temporary folder); neither the data nor the DVC cache is left in the clone."""
    base = tmp_path_factory.mktemp("data-push")
    clone = fresh_clone(base / "clone", epochs=EPOCHS)
    check(clone.run(DVC, "remote", "add", "ci", str(base / "dvc-remote")))
    return clone, commit_new_data_version(clone, "ci", NEW_DATA_SEED)


def test_push_without_a_reachable_data_version_says_what_to_configure(data_push, tmp_path: Path) -> None:
    clone, _ = data_push
    run = run_act(clone.root, "push", tmp_path / "act")
    print(f"\nact push, data not reachable: {run.seconds:.1f} s wall")
    assert run.returncode != 0, run.tail()
    steps = run.steps()
    assert steps["Get the data (dvc pull)"] == "Failure", steps
    assert "no reachable DVC remote holds" in run.output, run.tail()
    assert "Configure the remote that holds it" in run.output
    assert (
        "Retrain, gate and sign the candidate" not in steps
        or steps["Retrain, gate and sign the candidate"] != "Success"
    )
    assert "No retrain record" in run.summary(), run.tail()
    assert not (run.artifacts / "mlops-candidate").exists()


def test_push_of_a_new_data_version_uploads_a_promotable_candidate(data_push, tmp_path: Path) -> None:
    clone, digest = data_push
    key = ci_key()
    key.trusted_in(clone)  # the public half committed, the private half a secret
    run = run_act(clone.root, "push", tmp_path / "act", variables={"DVC_REMOTE": "ci"}, secrets=key.secret)
    print(f"\nact push, new data version via DVC_REMOTE: {run.seconds:.1f} s wall")
    assert_all_steps_passed(run, clone.root)
    assert run.step_log("is present and matches"), run.tail()  # pulled from `ci` by the data step
    summary = run.summary()
    assert " improved** " in summary and "not improved" not in summary, summary

    (candidate,) = (run.artifacts / "mlops-candidate").iterdir()
    assert candidate.name.startswith("v") and {p.name for p in candidate.iterdir()} == CANDIDATE_FILES
    manifest = clone.verify(candidate)
    assert manifest["model_version"] == candidate.name
    assert "which production trusts" in summary, summary
    assert key.pem.splitlines()[1] not in run.output  # the secret is masked in every log
    assert manifest["training_data"]["sha256"] == digest  # trained on the pushed version
    assert manifest["decision"]["improved"] is True
    assert json.loads((candidate / "metrics.json").read_text())["version"] == candidate.name
    assert f"promote_model.py --version {candidate.name}" in summary

    # A person promotes it, as the summary says, in a copy that never trained: the candidate into
    # mlops/models/. Its registry was the runner's file store, so the alias is not moved here.
    other = key.trusted_in(fresh_clone(tmp_path / "promote"))
    shutil.copytree(candidate, other.root / "mlops" / "models" / candidate.name)
    dry = check(other.script("promote_model.py", "--version", candidate.name, "--dry-run"))
    assert "would archive production" in dry.stderr and candidate.name in dry.stderr
    r = check(other.script("promote_model.py", "--version", candidate.name))
    assert "registered as version" in r.stderr and "in another MLflow store" in r.stderr, r.stderr[-1500:]
    production = other.root / "ml_model"
    for name in (*ARTIFACT_FILES, SIGNATURE_FILE, MANIFEST_FILE):
        assert filecmp.cmp(candidate / name, production / name, shallow=False), name
    assert other.verify(production)["model_version"] == candidate.name
