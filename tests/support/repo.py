"""A temporary copy of the repository with a small dataset, for end-to-end runs of the sidecar.

Scripts resolve paths from their own location, so running the copy's scripts (with PYTHONPATH
pointing at the copy) touches only the copy: the real work tree is never written.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from ml_model.paths import REPO_ROOT
from mlops.sidecar.simulator import simulate

VENV_BIN = Path(sys.executable).parent
COPY_IGNORE = shutil.ignore_patterns("__pycache__", "tracking", "models", "reports", ".staging", "*.pyc")


@dataclass
class Repo:
    """A copy of the repository and the environment its commands run in."""

    root: Path
    env: dict[str, str]

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        """Any command, in the copy (or ``cwd``), with the copy's environment."""
        return subprocess.run(
            list(args), cwd=cwd or self.root, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def script(self, name: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """One of the copy's mlops/scripts, with the venv's interpreter."""
        return self.run(sys.executable, str(self.root / "mlops" / "scripts" / name), *args, timeout=timeout)

    @property
    def trust(self) -> dict[str, str]:
        """The setting that makes another process trust what this copy signed (and the committed keys)."""
        keys = self.root / "keys"
        return {"MODEL_TRUSTED_KEYS": f"{keys / 'trusted'}{os.pathsep}{keys / 'local' / 'trusted'}"}

    def verify(self, folder: Path) -> dict:
        """``verify_manifest`` as this copy's own commands see it: its trusted keys, not ours."""
        from ml_model.artifacts import verify_manifest

        saved = os.environ.get("MODEL_TRUSTED_KEYS")
        os.environ.update(self.trust)
        try:
            return verify_manifest(folder)
        finally:
            if saved is None:
                os.environ.pop("MODEL_TRUSTED_KEYS")
            else:
                os.environ["MODEL_TRUSTED_KEYS"] = saved

    def trust_signer(self, other: Repo) -> None:
        """Trust what ``other`` signs, as an operator does by committing its key into keys/trusted/."""
        for pub in (other.root / "keys" / "local" / "trusted").glob("*.pub"):
            shutil.copyfile(pub, self.root / "keys" / "trusted" / pub.name)

    def dvc(self, *args: str) -> subprocess.CompletedProcess:
        """The venv's dvc, in the copy's mlops/ folder (where dvc.yaml is)."""
        return self.run(str(VENV_BIN / "dvc"), *args, cwd=self.root / "mlops")

    @property
    def data(self) -> Path:
        """The sidecar's DVC-tracked dataset in the copy."""
        return self.root / "mlops" / "data" / "matchmaking_dataset.csv"

    def tree_digest(self, folder: str) -> dict[str, str]:
        """sha256 of every file under ``folder``, to show a command left it untouched."""
        base = self.root / folder
        return {
            str(p.relative_to(base)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(base.rglob("*"))
            if p.is_file()
        }


def make_repo(dest: Path, rows: int = 3000, epochs: int | None = 3, seed: int = 31) -> Repo:
    """A git+DVC copy of the repository with ``rows`` simulated rows (0: keep the committed 20,000)."""
    dest.mkdir(parents=True)
    shutil.copytree(REPO_ROOT / "ml_model", dest / "ml_model", ignore=COPY_IGNORE)
    shutil.copytree(REPO_ROOT / "mlops", dest / "mlops", ignore=COPY_IGNORE)
    for code in ("clientdata", "logstore", "scripts"):
        shutil.copytree(REPO_ROOT / code, dest / code, ignore=COPY_IGNORE)
    # The committed trust list only: the copy makes its own signing key on first use, as a clone does.
    shutil.copytree(REPO_ROOT / "keys" / "trusted", dest / "keys" / "trusted")
    (dest / ".dvc").mkdir()
    shutil.copy2(REPO_ROOT / ".dvc" / "config", dest / ".dvc" / "config")
    shutil.copytree(REPO_ROOT / ".dvc" / "plots", dest / ".dvc" / "plots")  # our plot templates
    for name in (".gitignore", ".dvcignore"):
        shutil.copy2(REPO_ROOT / name, dest / name)
    (dest / "mlops" / "dvc.lock").unlink(missing_ok=True)
    params_path = dest / "mlops" / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    if epochs is not None:
        params["train"]["epochs"] = epochs
        params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    data = dest / "mlops" / "data" / "matchmaking_dataset.csv"
    if rows:
        simulate(rows, seed).to_csv(data, index=False)
    else:
        shutil.copyfile(REPO_ROOT / "ml_model" / "matchmaking_dataset.csv", data)
    env = {
        **os.environ,
        "PYTHONPATH": str(dest),
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "OMP_NUM_THREADS": "2",
    }
    for name in (
        "MLFLOW_TRACKING_URI",
        "MLFLOW_REGISTRY_URI",
        "MODEL_SIGNING_KEY",
        "MODEL_SIGNING_KEY_FILE",
        "MODEL_TRUSTED_KEYS",
    ):
        env.pop(name, None)
    repo = Repo(dest, env)
    for cmd in (
        ["git", "init", "-q"],
        [
            "git",
            "-c",
            "user.email=t@example.com",
            "-c",
            "user.name=t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "init",
        ],
        [
            str(VENV_BIN / "dvc"),
            "remote",
            "add",
            "-d",
            "-f",
            "localremote",
            str(dest.parent / f"{dest.name}-remote"),
        ],
        [str(VENV_BIN / "dvc"), "add", "-q", "mlops/data/matchmaking_dataset.csv"],
        ["git", "add", "-A"],
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "small data"],
    ):
        r = repo.run(*cmd)
        assert r.returncode == 0, (cmd, r.stdout, r.stderr)
    return repo


def candidates(repo: Repo) -> list[Path]:
    """The candidate model folders a retrain left in the copy (mlops/models/v*), oldest first."""
    models = repo.root / "mlops" / "models"
    return sorted(models.glob("v*")) if models.is_dir() else []


def weaken_production(repo: Repo) -> None:
    """Production trained on 300 rows for one epoch, so a real candidate beats it and is registered."""
    data = repo.root / "weak.csv"
    simulate(300, 77).to_csv(data, index=False)
    r = repo.run(
        sys.executable,
        str(repo.root / "ml_model" / "train_model.py"),
        "--data",
        str(data),
        "--out-dir",
        str(repo.root / "ml_model"),
        "--epochs",
        "1",
        "--hidden",
        "4",
    )
    assert r.returncode == 0, r.stderr[-1500:]
