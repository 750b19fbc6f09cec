"""The scale-out stack (radosgw + PostgreSQL + mlflow server behind basic auth) run by
mlops/infra/stack.sh, in a state folder of its own on free ports, and a repository copy pointed at it
as one of the stack's MLflow accounts."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from ml_model.common import file_digest
from ml_model.paths import REPO_ROOT
from tests.support.ports import free_ports
from tests.support.procs import all_pids, pgrp, ppid
from tests.support.repo import Repo

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

STACK = REPO_ROOT / "mlops" / "infra" / "stack.sh"
CREDENTIALS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


@dataclass
class Stack:
    """One stack: its state folder, what `stack.sh env` exports, and the ports it was created with.

    ``outputs`` collects what the stack's commands and the tests' commands printed, ``seen_files``
    what else they wrote (the leak check reads both); `stack.sh env`, the one command meant to print
    a password, is not recorded."""

    state: Path
    env: dict[str, str]  # what `stack.sh env` exports: the reader account's
    ports: dict[str, int]
    outputs: list[str] = field(default_factory=list)
    accounts: dict[str, dict[str, str]] = field(default_factory=dict)
    seen_files: list[Path] = field(default_factory=list)  # more files and folders for the leak check

    @classmethod
    def on_free_ports(cls, state: Path) -> Stack:
        """A stack (not up yet) in ``state`` whose four listeners get ports nothing uses now."""
        mlflow_port, s3_port, pg_port, mon_port = free_ports(4)
        return cls(state, {}, {"mlflow": mlflow_port, "s3": s3_port, "pg": pg_port, "mon": mon_port})

    def up(self, timeout: float = 420) -> subprocess.CompletedProcess:
        """The first `stack.sh up`, on ``ports`` (the state folder keeps them for every later call)."""
        ports = {f"STACK_{name.upper()}_PORT": str(port) for name, port in self.ports.items()}
        return self.sh("up", extra=ports, timeout=timeout)

    def sh(
        self, *args: str, extra: dict[str, str] | None = None, timeout: float = 420
    ) -> subprocess.CompletedProcess:
        """`stack.sh <args>` on this stack's state folder."""
        env = {
            **{k: v for k, v in os.environ.items() if k not in CREDENTIALS},
            "STACK_STATE_DIR": str(self.state),
            "STACK_PYTHON": sys.executable,
            **(extra or {}),
        }
        r = subprocess.run([str(STACK), *args], env=env, capture_output=True, text=True, timeout=timeout)
        return r if args[:1] == ("env",) else self.seen(r)

    def seen(self, r: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
        """Keep a command's output for the leak check; returns it unchanged."""
        self.outputs.append(f"{r.args}\n{r.stdout}\n{r.stderr}")
        return r

    def account(self, name: str) -> dict[str, str]:
        """What `stack.sh env NAME` exports: the stack's settings with that MLflow account's credentials."""
        if name not in self.accounts:
            out = self.sh("env", name)
            assert out.returncode == 0, out.stderr
            self.accounts[name] = parse_env(out.stdout)
        return self.accounts[name]

    def passwords(self) -> dict[str, str]:
        """Every MLflow account's password, from the stack's accounts file."""
        lines = (self.state / "auth" / "accounts").read_text().splitlines()
        return {n: pw for n, _, pw in (line.split() for line in lines if line and not line.startswith("#"))}

    def uri_as(self, name: str) -> str:
        """The tracking URI with an account's credentials in it (``http://user:password@host``), the
        one setting a CI job that passes only MLFLOW_TRACKING_URI can carry them in."""
        creds = self.account(name)
        netloc = urlparse(self.uri).netloc
        return f"http://{name}:{creds['MLFLOW_TRACKING_PASSWORD']}@{netloc}"

    @contextlib.contextmanager
    def credentials(self, name: str) -> Iterator[None]:
        """This process's MLflow clients act as account ``name`` (MLflow reads the variables on each call)."""
        saved = {k: os.environ.get(k) for k in CREDENTIALS}
        creds = self.account(name)
        os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
        for k in CREDENTIALS[:2]:
            os.environ[k] = creds[k]
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    @property
    def uri(self) -> str:
        """The tracking server's URI."""
        return self.env["MLFLOW_TRACKING_URI"]

    @property
    def bucket(self) -> str:
        """The bucket of both MLflow's artifacts and the DVC remote."""
        return "legalaid"

    def pid(self, name: str) -> int:
        """The process group of one component (mon, osd, rgw, mlflow), from its pid file."""
        return int((self.state / "run" / f"{name}.pid").read_text())

    def kill(self, name: str) -> None:
        """Stop one component by its process group, as `down` would, and wait until it is gone."""
        try:
            pgid = self.pid(name)
            os.killpg(pgid, signal.SIGTERM)
        except (OSError, ValueError):
            return  # not running
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
        os.killpg(pgid, signal.SIGKILL)

    def s3(self) -> Any:
        """A boto3 S3 client on the stack's radosgw."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.env["MLFLOW_S3_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )

    def client(self) -> MlflowClient:
        """An MLflow client on the stack's server, with explicit URIs (no global MLflow state)."""
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def keys(self, prefix: str) -> list[str]:
        """Every object key in the bucket under ``prefix``."""
        out, token = [], None
        while True:
            kw = {"Bucket": self.bucket, "Prefix": prefix, **({"ContinuationToken": token} if token else {})}
            page = self.s3().list_objects_v2(**kw)
            out += [o["Key"] for o in page.get("Contents", [])]
            token = page.get("NextContinuationToken")
            if not token:
                return out


def parse_env(text: str) -> dict[str, str]:
    """The variables of `stack.sh env` output (``export K=V`` lines)."""
    out = {}
    for line in text.splitlines():
        if line.startswith("export "):
            k, _, v = line[len("export ") :].partition("=")
            out[k] = v
    return out


def postmaster(stack: Stack) -> int | None:
    """PostgreSQL's postmaster pid; None when it is not running."""
    pid_file = Path((stack.state / "pg.path").read_text().strip()) / "data" / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


def stack_pids(stack: Stack) -> set[int]:
    """Every process of the stack: the daemons' process groups, and PostgreSQL's postmaster with its
    children (each of which is a session of its own)."""
    groups = {int(p.read_text()) for p in (stack.state / "run").glob("*.pid")}
    pm = postmaster(stack)
    return {p for p in all_pids() if pgrp(p) in groups or (pm is not None and (p == pm or ppid(p) == pm))}


def md5(path: Path) -> str:
    """A file's md5, the digest DVC files objects under."""
    return file_digest(path, "md5")


def sidecar_env(repo: Repo, stack: Stack, account: str = "ci") -> dict[str, str]:
    """The copy's environment with the stack's variables as `eval "$(stack.sh env ACCOUNT)"` gives
    them in a developer's shell (``ci``: the pipeline's account)."""
    env = {**repo.env, **stack.account(account)}
    for k in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "MLFLOW_TRACKING_TOKEN"):
        env.pop(k, None)
    return env


def as_account(repo: Repo, stack: Stack, account: str) -> Repo:
    """The same copy, its commands run as another MLflow account (e.g. ``promoter`` to promote)."""
    return Repo(repo.root, sidecar_env(repo, stack, account))


def leaks(secrets: dict[str, str], texts: Iterable[str], paths: Iterable[Path]) -> list[str]:
    """Where any secret appears: ``"name in <what>"`` for each hit in a text or a file under a path."""
    found = []
    needles = {name: value.encode() for name, value in secrets.items()}
    for i, text in enumerate(texts):
        found += [f"{name} in output #{i}" for name, v in needles.items() if v in text.encode()]
    for path in paths:
        for f in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
            data = f.read_bytes()
            found += [f"{name} in {f}" for name, v in needles.items() if v in data]
    return found


def point_dvc_at(repo: Repo, stack: Stack) -> None:
    """Point the copy's S3 DVC remote at the stack's radosgw (a local, uncommitted setting)."""
    r = repo.dvc(
        "remote", "modify", "--local", "s3remote", "endpointurl", stack.env["MLFLOW_S3_ENDPOINT_URL"]
    )
    assert r.returncode == 0, r.stderr


def download_model(stack: Stack, name: str, alias: str, dest: Path) -> Path:
    """The files of ``models:/name@alias``, resolved with explicit URIs (no global MLflow state)."""
    import mlflow.artifacts

    client = stack.client()
    version = client.get_model_version_by_alias(name, alias)
    model = client.get_logged_model(version.source.removeprefix("models:/"))
    return Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=model.artifact_location, tracking_uri=stack.uri, dst_path=str(dest)
        )
    )


def local_store_is_empty(repo: Repo) -> bool:
    """True when nothing went to the copy's embedded file store (mlops/tracking has no folder)."""
    tracking = repo.root / "mlops" / "tracking"
    return not tracking.exists() or not any(p.is_dir() for p in tracking.iterdir())
