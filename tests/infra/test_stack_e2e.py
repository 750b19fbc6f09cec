"""End to end: the scale-out stack (radosgw + PostgreSQL + mlflow server) with the sidecar unchanged.

One stack for the module, in its own state folder on free ports, so it never meets a stack a
developer runs. The tests run in file order and each leaves the stack healthy for the next; the
last one brings it down and checks that no process and no listening port is left (the fixture's
teardown brings it down and purges it whatever happened).
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ml_model.paths import REPO_ROOT
from mlops.scripts.generate_data import simulate
from tests.mlops.conftest import Repo, make_repo

pytestmark = pytest.mark.slow

STACK = REPO_ROOT / "mlops" / "infra" / "stack.sh"
PREFLIGHT = REPO_ROOT / "mlops" / "infra" / "preflight.py"
MIGRATE = REPO_ROOT / "mlops" / "infra" / "migrate_runs.py"
EXPERIMENT = "LegalAid_Connect_Matchmaking"
MODEL = "lawyer_match_model"

if not all(Path(f"/usr/bin/{b}").exists() for b in ("radosgw", "ceph-mon", "ceph-osd")):
    if os.environ.get("CI"):
        raise RuntimeError("Ceph is not installed: CI must run mlops/infra/install_deps.sh first")
    pytest.skip("Ceph is not installed (run mlops/infra/install_deps.sh)", allow_module_level=True)


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@dataclass
class Stack:
    state: Path
    env: dict[str, str]  # what `stack.sh env` exports
    ports: dict[str, int]

    def sh(
        self, *args: str, extra: dict[str, str] | None = None, timeout: float = 420
    ) -> subprocess.CompletedProcess:
        env = {
            **os.environ,
            "STACK_STATE_DIR": str(self.state),
            "STACK_PYTHON": sys.executable,
            **(extra or {}),
        }
        return subprocess.run([str(STACK), *args], env=env, capture_output=True, text=True, timeout=timeout)

    @property
    def uri(self) -> str:
        return self.env["MLFLOW_TRACKING_URI"]

    @property
    def bucket(self) -> str:
        return "legalaid"

    def pid(self, name: str) -> int:
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

    def s3(self):
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.env["MLFLOW_S3_ENDPOINT_URL"], region_name="us-east-1",
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )  # fmt: skip

    def client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def keys(self, prefix: str) -> list[str]:
        out, token = [], None
        while True:
            kw = {"Bucket": self.bucket, "Prefix": prefix, **({"ContinuationToken": token} if token else {})}
            page = self.s3().list_objects_v2(**kw)
            out += [o["Key"] for o in page.get("Contents", [])]
            token = page.get("NextContinuationToken")
            if not token:
                return out


def parse_env(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.startswith("export "):
            k, _, v = line[len("export ") :].partition("=")
            out[k] = v
    return out


# ---------------------------------------------------------------------------------------------
# Processes and listening sockets, from /proc (no ss/psutil needed on a fresh machine)
# ---------------------------------------------------------------------------------------------
def _pgrp(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[2])
    except (OSError, IndexError, ValueError):
        return None


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def postmaster(stack: Stack) -> int | None:
    pid_file = Path((stack.state / "pg.path").read_text().strip()) / "data" / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


def stack_pids(stack: Stack) -> set[int]:
    """Every process of the stack: the daemons' process groups, and PostgreSQL's postmaster with its
    children (each of which is a session of its own)."""
    groups = {int(p.read_text()) for p in (stack.state / "run").glob("*.pid")}
    pm = postmaster(stack)
    procs = [int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit()]
    return {p for p in procs if _pgrp(p) in groups or (pm is not None and (p == pm or _ppid(p) == pm))}


def listening() -> dict[int, tuple[str, int]]:
    """Socket inode -> (address, port) of every TCP socket in LISTEN state."""
    out = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] != "0A":
                continue
            addr_hex, port_hex = f[1].split(":")
            if len(addr_hex) == 8:
                addr = socket.inet_ntop(socket.AF_INET, bytes.fromhex(addr_hex)[::-1])
            else:
                raw = bytes.fromhex(addr_hex)
                addr = socket.inet_ntop(
                    socket.AF_INET6, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                )
            out[int(f[9])] = (addr, int(port_hex, 16))
    return out


def sockets_of(pids: set[int]) -> set[tuple[str, int]]:
    table = listening()
    found = set()
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(fd)
            except OSError:
                continue
            if link.startswith("socket:["):
                inode = int(link[8:-1])
                if inode in table:
                    found.add(table[inode])
    return found


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("stack") / "state"
    mlflow_port, s3_port, pg_port, mon_port = free_ports(4)
    ports = {"mlflow": mlflow_port, "s3": s3_port, "pg": pg_port, "mon": mon_port}
    env = {
        "STACK_STATE_DIR": str(state), "STACK_PYTHON": sys.executable,
        "STACK_MLFLOW_PORT": str(mlflow_port), "STACK_S3_PORT": str(s3_port),
        "STACK_PG_PORT": str(pg_port), "STACK_MON_PORT": str(mon_port),
    }  # fmt: skip
    t0 = time.monotonic()
    up = subprocess.run(
        [str(STACK), "up"], env={**os.environ, **env}, capture_output=True, text=True, timeout=420
    )
    st = Stack(state, {}, ports)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        print(f"stack up in {time.monotonic() - t0:.1f} s:\n{up.stderr}")
        out = st.sh("env")
        assert out.returncode == 0, out.stderr
        st.env = parse_env(out.stdout)
        yield st
    finally:
        st.sh("purge", timeout=180)  # down (idempotent) and delete the state


def sidecar_env(repo: Repo, stack: Stack) -> dict[str, str]:
    env = {**repo.env, **stack.env}
    for k in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(k, None)
    return env


def point_dvc_at(repo: Repo, stack: Stack) -> None:
    r = repo.dvc(
        "remote", "modify", "--local", "s3remote", "endpointurl", stack.env["MLFLOW_S3_ENDPOINT_URL"]
    )
    assert r.returncode == 0, r.stderr


def weaken_production(repo: Repo) -> None:
    """Production trained on 300 rows for one epoch, so a real candidate beats it and is registered."""
    data = repo.root / "weak.csv"
    simulate(300, 77).to_csv(data, index=False)
    r = repo.run(sys.executable, str(repo.root / "ml_model" / "train_model.py"), "--data", str(data),
                 "--out-dir", str(repo.root / "ml_model"), "--epochs", "1", "--hidden", "4")  # fmt: skip
    assert r.returncode == 0, r.stderr[-1500:]


@pytest.fixture(scope="module")
def pipeline_repo(tmp_path_factory: pytest.TempPathFactory, stack: Stack) -> Repo:
    repo = make_repo(tmp_path_factory.mktemp("pipe") / "repo", rows=4000, epochs=12)
    weaken_production(repo)
    repo.env = sidecar_env(repo, stack)
    point_dvc_at(repo, stack)
    return repo


def download_model(stack: Stack, name: str, alias: str, dest: Path) -> Path:
    """The files of ``models:/name@alias``, resolved with explicit URIs (no global MLflow state)."""
    import mlflow.artifacts

    client = stack.client()
    version = client.get_model_version_by_alias(name, alias)
    model = client.get_logged_model(version.source.removeprefix("models:/"))
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=model.artifact_location, tracking_uri=stack.uri,
                                                    dst_path=str(dest)))  # fmt: skip


def candidates(repo: Repo) -> list[Path]:
    models = repo.root / "mlops" / "models"
    return sorted(models.glob("v*")) if models.is_dir() else []


def local_store_is_empty(repo: Repo) -> bool:
    tracking = repo.root / "mlops" / "tracking"
    return not tracking.exists() or not any(p.is_dir() for p in tracking.iterdir())


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------
def test_up_binds_loopback_only_and_is_idempotent(stack: Stack) -> None:
    assert set(stack.env) == {
        "MLFLOW_TRACKING_URI", "MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DVC_REMOTE",
    }  # fmt: skip
    assert stack.env["MLFLOW_TRACKING_URI"] == f"http://127.0.0.1:{stack.ports['mlflow']}"
    assert stack.env["DVC_REMOTE"] == "s3remote"
    socks = sockets_of(stack_pids(stack))
    ports = {p for _, p in socks}
    assert {stack.ports["mlflow"], stack.ports["s3"], stack.ports["pg"], stack.ports["mon"]} <= ports, socks
    assert all(addr == "127.0.0.1" for addr, _ in socks), socks  # nothing on 0.0.0.0 or another address
    secrets = (stack.state / "secrets.env").stat().st_mode & 0o777
    assert secrets == 0o600
    t0 = time.monotonic()
    again = stack.sh("up")
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("already running") == 5, again.stderr
    assert time.monotonic() - t0 < 30
    r = subprocess.run([sys.executable, str(PREFLIGHT), "--skip-dvc"], env={**os.environ, **stack.env},
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stdout


def test_pipeline_logs_to_the_server_and_promote_moves_the_alias_there(
    stack: Stack, pipeline_repo: Repo
) -> None:
    repo = pipeline_repo
    r = repo.dvc("repro")
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    for stage in ("train", "evaluate", "monitor"):
        assert f"Running stage '{stage}'" in r.stdout
    assert local_store_is_empty(repo)  # nothing went to the embedded file store
    again = repo.dvc("repro")
    assert again.returncode == 0 and "Running stage" not in again.stdout, again.stdout  # same as embedded

    client = stack.client()
    exp = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([exp.experiment_id])
    (retrain,) = [x for x in runs if x.info.run_name.startswith("retrain_")]
    (evaluate,) = [x for x in runs if x.info.run_name.startswith("evaluate_")]
    assert retrain.info.status == evaluate.info.status == "FINISHED"
    assert {"roc_auc", "production_roc_auc", "f1"} <= set(retrain.data.metrics)
    assert retrain.data.params["epochs"] == "12" and retrain.data.tags["decision"] == "improved"
    assert retrain.info.artifact_uri.startswith("mlflow-artifacts:/")
    # Artifacts are objects in the bucket, through the server's proxy.
    assert f"mlflow/{exp.experiment_id}/{retrain.info.run_id}/artifacts/metrics.json" in stack.keys("mlflow/")
    assert any(
        k.endswith("/eval.json") for k in stack.keys(f"mlflow/{exp.experiment_id}/{evaluate.info.run_id}/")
    )
    challenger = client.get_model_version_by_alias(MODEL, "challenger")
    assert challenger.run_id == retrain.info.run_id
    model_id = challenger.source.removeprefix("models:/")
    model_keys = stack.keys(f"mlflow/{exp.experiment_id}/models/{model_id}/artifacts/")
    assert any(k.endswith("/MLmodel") for k in model_keys) and any(
        k.endswith("model.keras") for k in model_keys
    )
    assert (download_model(stack, MODEL, "challenger", repo.root / "dl") / "MLmodel").is_file()
    assert list((repo.root / "mlops" / "reports").glob("data_drift_report_*.html"))  # monitor ran (no MLflow)

    (cand,) = candidates(repo)
    r = repo.script("promote_model.py", "--version", cand.name)
    assert r.returncode == 0, r.stderr[-2000:]
    assert client.get_model_version_by_alias(MODEL, "champion").version == challenger.version


def test_dvc_push_then_pull_into_a_fresh_clone(stack: Stack, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", rows=3000)
    repo.env = sidecar_env(repo, stack)
    point_dvc_at(repo, stack)
    digest = md5(repo.data)
    r = repo.dvc("push", "-r", stack.env["DVC_REMOTE"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 file pushed" in r.stdout
    assert f"dvcstore/files/md5/{digest[:2]}/{digest[2:]}" in stack.keys("dvcstore/")

    clone_root = tmp_path / "clone"
    r = subprocess.run(
        ["git", "clone", "-q", str(repo.root), str(clone_root)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    clone = Repo(clone_root, {**repo.env, "PYTHONPATH": str(clone_root)})
    assert not clone.data.exists()  # git has the .dvc file, not the data
    point_dvc_at(clone, stack)
    # The dataset's .dvc file (a bare `dvc pull` would also want the pipeline's outputs, which this
    # copy never produced).
    r = clone.dvc("pull", "-r", stack.env["DVC_REMOTE"], "data/matchmaking_dataset.csv.dvc")
    assert r.returncode == 0, r.stdout + r.stderr
    assert md5(clone.data) == digest


def test_object_store_down_or_wrong_keys_fail_dvc_clearly_and_lose_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", rows=3000)
    repo.env = sidecar_env(repo, stack)
    point_dvc_at(repo, stack)
    with open(repo.data, "a") as fh:  # a new data version, not yet pushed anywhere
        fh.write(simulate(50, 5).to_csv(index=False, header=False))
    r = repo.dvc("add", "-q", "data/matchmaking_dataset.csv")
    assert r.returncode == 0, r.stderr
    digest = md5(repo.data)
    cached = repo.root / ".dvc" / "cache" / "files" / "md5" / digest[:2] / digest[2:]
    preflight = [sys.executable, str(PREFLIGHT), "--repo", str(repo.root), "--skip-mlflow"]

    # Wrong secret, then wrong key id: DVC says 403 Forbidden; the preflight names the setting.
    for var, words in (("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY does not match"),
                       ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID is not known")):  # fmt: skip
        bad = {**repo.env, var: "WRONG" + stack.env[var][5:]}
        r = subprocess.run([str(Path(sys.executable).parent / "dvc"), "push", "-r", "s3remote"], cwd=repo.root / "mlops",
                           env=bad, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert r.returncode != 0 and "403" in r.stderr and "Forbidden" in r.stderr, r.stderr
        p = subprocess.run(preflight, env=bad, capture_output=True, text=True, timeout=60)
        assert p.returncode == 1 and words in p.stdout, p.stdout

    stack.kill("rgw")
    try:
        t0 = time.monotonic()
        r = repo.dvc("push", "-r", "s3remote")
        took = time.monotonic() - t0
        assert r.returncode != 0 and "Could not connect to the endpoint URL" in r.stderr, r.stderr
        assert took < 60, took
        p = subprocess.run(preflight, env=repo.env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 1 and "does not answer" in p.stdout, p.stdout
        assert md5(repo.data) == digest and cached.is_file()  # nothing local is lost
    finally:
        up = stack.sh("up")
        assert up.returncode == 0, up.stderr
    r = repo.dvc("push", "-r", "s3remote")
    assert r.returncode == 0 and "1 file pushed" in r.stdout, r.stdout + r.stderr
    assert f"dvcstore/files/md5/{digest[:2]}/{digest[2:]}" in stack.keys("dvcstore/")


def test_tracking_server_down_or_refusing_the_host_fails_fast_and_leaves_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", rows=3000, epochs=2)
    repo.env = sidecar_env(repo, stack)
    client = stack.client()
    exp = client.get_experiment_by_name(EXPERIMENT)
    before = {x.info.run_id for x in client.search_runs([exp.experiment_id], max_results=1000)}

    stack.kill("mlflow")
    try:
        for script in ("retrain_model.py", "evaluate_model.py"):
            t0 = time.monotonic()
            r = repo.script(script, timeout=120)
            took = time.monotonic() - t0
            assert r.returncode == 2, (script, r.stderr[-1500:])
            assert f"MLflow tracking server {stack.uri} is unreachable" in r.stderr, r.stderr[-1500:]
            assert took < 30, (script, took)  # imports included; the check itself is one 5 s request
        assert candidates(repo) == [] and not (repo.root / "mlops" / ".staging").exists()
        assert local_store_is_empty(repo)  # no silent fall-back to the file store

        # The host check: --allowed-hosts REPLACES the defaults, so a list without our name refuses us.
        up = stack.sh("up", extra={"STACK_ALLOWED_HOSTS": "mlflow.example.invalid"})
        assert up.returncode == 0, up.stderr
        p = subprocess.run([sys.executable, str(PREFLIGHT), "--skip-dvc"], env=repo.env, capture_output=True,
                           text=True, timeout=60)  # fmt: skip
        assert p.returncode == 1 and "--allowed-hosts" in p.stdout and "Invalid Host header" in p.stdout, (
            p.stdout
        )
        r = repo.script("retrain_model.py", timeout=120)
        assert r.returncode == 2 and "refused an API call with 403" in r.stderr, r.stderr[-1500:]
        assert "--allowed-hosts" in r.stderr  # one plain sentence, no traceback
        assert candidates(repo) == [] and not (repo.root / "mlops" / ".staging").exists()
    finally:
        stack.kill("mlflow")
        up = stack.sh("up")
        assert up.returncode == 0, up.stderr
    after = {x.info.run_id for x in client.search_runs([exp.experiment_id], max_results=1000)}
    assert after == before  # no half-logged run


PROBE_SETUP = """
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
c = MlflowClient()
exp_id = c.get_experiment_by_name("LegalAid_Connect_Matchmaking").experiment_id
run = c.create_run(exp_id, run_name="history_probe", tags={"kind": "probe"})
rid = run.info.run_id
c.log_batch(rid, metrics=[Metric("loss", 1.0 / (s + 1), 1_700_000_000_000 + s, s) for s in range(5)])
c.log_param(rid, "lr", "0.01")
c.log_text(rid, "hello", "notes/hello.txt")
c.set_terminated(rid, "FINISHED")
mv = c.get_model_version_by_alias("lawyer_match_model", "challenger")
c.create_registered_model("migration_probe")
v = c.create_model_version("migration_probe", mv.source, run_id=mv.run_id, model_id=mv.model_id)
c.set_registered_model_alias("migration_probe", "champion", v.version)
print(rid)
"""


def test_migrate_runs_from_the_file_store(stack: Stack, pipeline_repo: Repo) -> None:
    repo = pipeline_repo
    local_env = {k: v for k, v in repo.env.items() if k != "MLFLOW_TRACKING_URI"}
    weaken_production(repo)  # the earlier test promoted a good model
    # A real retrain into the copy's embedded file store (production is weak: it registers a version).
    r = subprocess.run([sys.executable, str(repo.root / "mlops" / "scripts" / "retrain_model.py")], env=local_env,
                       capture_output=True, text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0 and "Gate: IMPROVED" in r.stderr, r.stderr[-2000:]
    source = (repo.root / "mlops" / "tracking").as_uri()
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    from mlflow.tracking import MlflowClient

    src = MlflowClient(tracking_uri=source, registry_uri=source)
    exp_id = src.get_experiment_by_name(EXPERIMENT).experiment_id
    # A run with a metric history (several steps) and a model registered under an alias nobody
    # holds on the server yet, to see both carried.
    # (In a child process whose default tracking URI is the file store: MLflow's file registry looks
    # logged models up through the global default URI, not the client's.)
    r = subprocess.run([sys.executable, "-c", PROBE_SETUP], capture_output=True, text=True, timeout=120,
                       env={**local_env, "MLFLOW_TRACKING_URI": source, "MLFLOW_ALLOW_FILE_STORE": "true"})  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    pid = r.stdout.split()[-1]
    (local_retrain,) = [x for x in src.search_runs([exp_id]) if x.info.run_name.startswith("retrain_")]
    source_runs = src.search_runs([exp_id])

    dest = stack.client()
    live_challenger = dest.get_model_version_by_alias(MODEL, "challenger").version
    cmd = [sys.executable, str(MIGRATE), "--source", source, "--dest", stack.uri]
    r = subprocess.run(cmd, env=repo.env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 run(s) copied" in r.stderr, r.stderr[-1500:]

    dexp = dest.get_experiment_by_name(EXPERIMENT)
    copies = {x.data.tags.get("migration.source_run_id"): x for x in dest.search_runs([dexp.experiment_id])}
    for run in source_runs:
        new = copies[run.info.run_id]
        assert new.info.run_name == run.info.run_name and new.info.status == run.info.status
        assert new.info.start_time == run.info.start_time and new.info.end_time == run.info.end_time
        assert new.data.params == run.data.params
        assert new.data.metrics == run.data.metrics
        assert {k: v for k, v in new.data.tags.items() if k != "migration.source_run_id"} == run.data.tags
        assert {a.path for a in dest.list_artifacts(new.info.run_id)} == {
            a.path for a in src.list_artifacts(run.info.run_id)
        }
    history = [
        (m.step, m.value, m.timestamp) for m in dest.get_metric_history(copies[pid].info.run_id, "loss")
    ]
    assert history == [(s, 1.0 / (s + 1), 1_700_000_000_000 + s) for s in range(5)]
    assert any(
        k.endswith("notes/hello.txt")
        for k in stack.keys(f"mlflow/{dexp.experiment_id}/{copies[pid].info.run_id}/")
    )
    # The registry: versions carried; an alias free on the server is set, a live one is left alone.
    champion = dest.get_model_version_by_alias("migration_probe", "champion")
    assert champion.run_id == copies[local_retrain.info.run_id].info.run_id
    assert dest.get_model_version_by_alias(MODEL, "challenger").version == live_challenger
    assert "left as it is" in r.stderr
    assert (
        download_model(stack, "migration_probe", "champion", repo.root / "dl-migrated") / "MLmodel"
    ).is_file()

    count = len(dest.search_runs([dexp.experiment_id], max_results=1000))
    again = subprocess.run(cmd, env=repo.env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "0 run(s) copied (2 already there)" in again.stderr, again.stderr[-1500:]
    assert len(dest.search_runs([dexp.experiment_id], max_results=1000)) == count  # nothing copied twice
    assert "0 model version(s)" in again.stderr and "0 logged model(s)" in again.stderr


def test_down_leaves_no_process_and_no_listening_port(stack: Stack) -> None:
    pids = stack_pids(stack)
    socks = sockets_of(pids)
    assert len(pids) >= 5 and socks
    r = stack.sh("down", timeout=180)
    assert r.returncode == 0, r.stderr
    alive = [p for p in pids if Path(f"/proc/{p}").exists()]
    assert alive == [], alive
    still = {(a, p) for a, p in listening().values()} & socks
    assert still == set(), still
    again = stack.sh("down")  # idempotent
    assert again.returncode == 0, again.stderr
