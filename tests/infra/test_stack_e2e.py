"""End to end: the scale-out stack (radosgw + PostgreSQL + mlflow server behind MLflow's basic-auth
app) with the sidecar unchanged.

One stack for the module, in its own state folder on free ports, so it never meets a stack a
developer runs. The pipeline runs as the `ci` account, promotion as `promoter`, this process's own
MLflow clients as `reader`. The tests run in file order and each leaves the stack healthy for the
next; the next to last checks that no password reached any output or file the others produced, the
last brings the stack down and checks that no process and no listening port is left (the fixture's
teardown brings it down and purges it whatever happened).
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ml_model.paths import ARTIFACT_FILES, REPO_ROOT
from mlops.paths import EXPERIMENT_NAME, REGISTERED_MODEL
from mlops.sidecar.simulator import simulate
from tests.support.act import ci_key, commit_new_data_version, fresh_clone, run_act
from tests.support.procs import listening, sockets_of
from tests.support.repo import Repo, candidates, make_repo, weaken_production
from tests.support.stack import (
    Stack,
    as_account,
    download_model,
    leaks,
    local_store_is_empty,
    md5,
    parse_env,
    point_dvc_at,
    sidecar_env,
    stack_pids,
)

pytestmark = pytest.mark.slow

PREFLIGHT = REPO_ROOT / "mlops" / "infra" / "preflight.py"
ACT_EPOCHS = 5  # the workflow run under act: as in tests/github/test_act.py
MIGRATE = REPO_ROOT / "mlops" / "infra" / "migrate_runs.py"

if not all(Path(f"/usr/bin/{b}").exists() for b in ("radosgw", "ceph-mon", "ceph-osd")):
    if os.environ.get("CI"):
        raise RuntimeError("Ceph is not installed: CI must run mlops/infra/install_deps.sh first")
    pytest.skip("Ceph is not installed (run mlops/infra/install_deps.sh)", allow_module_level=True)


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    st = Stack.on_free_ports(tmp_path_factory.mktemp("stack") / "state")
    t0 = time.monotonic()
    up = st.up(timeout=420)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        print(f"stack up in {time.monotonic() - t0:.1f} s:\n{up.stderr}")
        out = st.sh("env")
        assert out.returncode == 0, out.stderr
        st.env = parse_env(out.stdout)
        with st.credentials("reader"):  # this process's own MLflow clients only read
            yield st
    finally:
        st.sh("purge", timeout=180)  # down (idempotent) and delete the state


@pytest.fixture(scope="module")
def pipeline_repo(tmp_path_factory: pytest.TempPathFactory, stack: Stack) -> Repo:
    repo = make_repo(tmp_path_factory.mktemp("pipe") / "repo", rows=4000, epochs=12)
    weaken_production(repo)
    repo.env = sidecar_env(repo, stack)  # the ci account
    point_dvc_at(repo, stack)
    return repo


def refused(call: Callable[[], object]) -> str:
    """The MLflow error code a client call fails with ("" when it does not fail)."""
    from mlflow.exceptions import MlflowException

    try:
        call()
    except MlflowException as exc:
        return exc.error_code
    return ""


def http_status(url: str, user: str | None = None, password: str = "", body: bytes | None = None) -> int:
    """The HTTP status of one request, with Basic credentials when a user is given."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    if user:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------
def test_up_binds_loopback_only_and_is_idempotent(stack: Stack) -> None:
    assert set(stack.env) == {
        "MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "MLFLOW_S3_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "DVC_REMOTE",
    }
    assert stack.env["MLFLOW_TRACKING_URI"] == f"http://127.0.0.1:{stack.ports['mlflow']}"
    assert stack.env["DVC_REMOTE"] == "s3remote"
    # One account per role, each with its own password; `env` without a name is the reader's.
    passwords = stack.passwords()
    assert set(passwords) == {"admin", "promoter", "ci", "reader"}
    assert len(set(passwords.values())) == 4 and all(len(p) >= 12 for p in passwords.values())
    for name in ("reader", "ci", "promoter"):
        creds = stack.account(name)
        assert creds["MLFLOW_TRACKING_USERNAME"] == name
        assert creds["MLFLOW_TRACKING_PASSWORD"] == passwords[name]
    assert stack.env == stack.account("reader")
    assert (stack.state / "auth").stat().st_mode & 0o777 == 0o700
    assert (stack.state / "auth" / "accounts").stat().st_mode & 0o777 == 0o600
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
    r = stack.seen(
        subprocess.run(
            [sys.executable, str(PREFLIGHT), "--skip-dvc"],
            env={**os.environ, **stack.env},
            capture_output=True,
            text=True,
            timeout=60,
        )
    )
    assert r.returncode == 0, r.stdout
    # Without credentials the sidecar's start-up check stops at once and says what to set.
    anonymous = {k: v for k, v in {**os.environ, **stack.env}.items() if not k.startswith("MLFLOW_TRACKING_")}
    anonymous["MLFLOW_TRACKING_URI"] = stack.uri
    r = stack.seen(
        subprocess.run(
            [sys.executable, str(PREFLIGHT), "--skip-dvc"],
            env=anonymous,
            capture_output=True,
            text=True,
            timeout=60,
        )
    )
    assert r.returncode == 1 and "refused an API call with 401" in r.stdout, r.stdout
    assert "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD" in r.stdout


def test_pipeline_logs_to_the_server_and_promote_moves_the_alias_there(
    stack: Stack, pipeline_repo: Repo
) -> None:
    repo = pipeline_repo  # as the ci account
    r = stack.seen(repo.dvc("repro"))
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    for stage in ("train", "evaluate", "monitor"):
        assert f"Running stage '{stage}'" in r.stdout
    assert local_store_is_empty(repo)  # nothing went to the embedded file store
    again = stack.seen(repo.dvc("repro"))
    assert again.returncode == 0 and "Running stage" not in again.stdout, again.stdout  # same as embedded

    client = stack.client()
    exp = client.get_experiment_by_name(EXPERIMENT_NAME)
    runs = client.search_runs([exp.experiment_id])
    (retrain,) = [x for x in runs if x.info.run_name.startswith("retrain_")]
    (evaluate,) = [x for x in runs if x.info.run_name.startswith("evaluate_")]
    assert retrain.info.status == evaluate.info.status == "FINISHED"
    assert {"candidate_roc_auc", "production_roc_auc", "candidate_f1"} <= set(retrain.data.metrics)
    assert retrain.data.params["epochs"] == "12" and retrain.data.tags["decision"] == "improved"
    assert retrain.info.artifact_uri.startswith("mlflow-artifacts:/")
    # Artifacts are objects in the bucket, through the server's proxy.
    assert f"mlflow/{exp.experiment_id}/{retrain.info.run_id}/artifacts/metrics.json" in stack.keys("mlflow/")
    assert any(
        k.endswith("/eval.json") for k in stack.keys(f"mlflow/{exp.experiment_id}/{evaluate.info.run_id}/")
    )
    challenger = client.get_model_version_by_alias(REGISTERED_MODEL, "challenger")
    assert challenger.run_id == retrain.info.run_id
    model_id = challenger.source.removeprefix("models:/")
    model_keys = stack.keys(f"mlflow/{exp.experiment_id}/models/{model_id}/artifacts/")
    assert any(k.endswith("/MLmodel") for k in model_keys)  # the servable pyfunc and its artifact set
    assert {
        n
        for n in ("lawyer_match_model.h5", "encoder.pkl", "scaler.pkl", "manifest.json")
        if any(k.endswith(f"/artifacts/{n}") for k in model_keys)
    } == {"lawyer_match_model.h5", "encoder.pkl", "scaler.pkl", "manifest.json"}
    assert (download_model(stack, REGISTERED_MODEL, "challenger", repo.root / "dl") / "MLmodel").is_file()
    assert list((repo.root / "mlops" / "reports").glob("data_drift_report_*.html"))  # monitor ran (no MLflow)

    # Promotion against the authenticated server, as the promoter account.
    (cand,) = candidates(repo)
    r = stack.seen(as_account(repo, stack, "promoter").script("promote_model.py", "--version", cand.name))
    assert r.returncode == 0, r.stderr[-2000:]
    assert client.get_model_version_by_alias(REGISTERED_MODEL, "champion").version == challenger.version


def test_reader_cannot_move_an_alias_or_register_and_anonymous_calls_get_401(stack: Stack) -> None:
    client = stack.client()  # as reader
    champion = client.get_model_version_by_alias(REGISTERED_MODEL, "champion")
    challenger = client.get_model_version_by_alias(REGISTERED_MODEL, "challenger")
    versions = {v.version for v in client.search_model_versions(f"name='{REGISTERED_MODEL}'")}
    exp = client.get_experiment_by_name(EXPERIMENT_NAME)

    # reader: reads everything, writes nothing (MLflow answers 403 PERMISSION_DENIED).
    assert refused(lambda: client.set_registered_model_alias(REGISTERED_MODEL, "champion", "1")) == (
        "PERMISSION_DENIED"
    )
    assert refused(lambda: client.delete_registered_model_alias(REGISTERED_MODEL, "challenger")) == (
        "PERMISSION_DENIED"
    )

    def register() -> object:
        return client.create_model_version(
            REGISTERED_MODEL, challenger.source, run_id=challenger.run_id, model_id=challenger.model_id
        )

    assert refused(register) == "PERMISSION_DENIED"
    assert refused(lambda: client.create_run(exp.experiment_id)) == "PERMISSION_DENIED"
    # promoter moves aliases and registers (the pipeline test), but starts no run.
    with stack.credentials("promoter"):
        assert refused(lambda: client.create_run(exp.experiment_id)) == "PERMISSION_DENIED"
    # The same over plain HTTP: 403 for the reader, 401 without or with wrong credentials.
    alias = f'{{"name": "{REGISTERED_MODEL}", "alias": "champion", "version": "1"}}'.encode()
    reader_pw = stack.passwords()["reader"]
    url = stack.uri + "/api/2.0/mlflow/registered-models/alias"
    assert http_status(url, "reader", reader_pw, body=alias) == 403
    assert http_status(url, body=alias) == 401
    search = stack.uri + "/api/2.0/mlflow/experiments/search?max_results=1"
    assert http_status(search) == 401
    assert http_status(search, "reader", reader_pw + "x") == 401
    assert http_status(search, "reader", reader_pw) == 200
    assert http_status(stack.uri + "/health") == 200  # open: load balancers and the start-up check

    assert client.get_model_version_by_alias(REGISTERED_MODEL, "champion").version == champion.version
    assert client.get_model_version_by_alias(REGISTERED_MODEL, "challenger").version == challenger.version
    assert {v.version for v in client.search_model_versions(f"name='{REGISTERED_MODEL}'")} == versions


def test_dvc_push_then_pull_into_a_fresh_clone(stack: Stack, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", rows=3000)
    repo.env = sidecar_env(repo, stack)
    point_dvc_at(repo, stack)
    digest = md5(repo.data)
    r = stack.seen(repo.dvc("push", "-r", stack.env["DVC_REMOTE"]))
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
    r = stack.seen(clone.dvc("pull", "-r", stack.env["DVC_REMOTE"], "data/matchmaking_dataset.csv.dvc"))
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
    for var, words in (
        ("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY does not match"),
        ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID is not known"),
    ):
        bad = {**repo.env, var: "WRONG" + stack.env[var][5:]}
        r = subprocess.run(
            [str(Path(sys.executable).parent / "dvc"), "push", "-r", "s3remote"],
            cwd=repo.root / "mlops",
            env=bad,
            capture_output=True,
            text=True,
            timeout=120,
        )
        # DVC reports the refusal as 403 Forbidden (a HEAD) or by its S3 code (a listing, with more files)
        refused = ("403" in r.stderr and "Forbidden" in r.stderr) or any(
            code in r.stderr for code in ("SignatureDoesNotMatch", "InvalidAccessKeyId")
        )
        assert r.returncode != 0 and refused, r.stderr
        p = stack.seen(subprocess.run(preflight, env=bad, capture_output=True, text=True, timeout=60))
        assert p.returncode == 1 and words in p.stdout, p.stdout

    stack.kill("rgw")
    try:
        t0 = time.monotonic()
        r = stack.seen(repo.dvc("push", "-r", "s3remote"))
        took = time.monotonic() - t0
        assert r.returncode != 0 and "Could not connect to the endpoint URL" in r.stderr, r.stderr
        assert took < 60, took
        p = stack.seen(subprocess.run(preflight, env=repo.env, capture_output=True, text=True, timeout=60))
        assert p.returncode == 1 and "does not answer" in p.stdout, p.stdout
        assert md5(repo.data) == digest and cached.is_file()  # nothing local is lost
    finally:
        up = stack.sh("up")
        assert up.returncode == 0, up.stderr
    r = stack.seen(repo.dvc("push", "-r", "s3remote"))
    assert r.returncode == 0 and re.search(r"\d+ files? pushed", r.stdout), r.stdout + r.stderr
    assert f"dvcstore/files/md5/{digest[:2]}/{digest[2:]}" in stack.keys("dvcstore/")


def test_tracking_server_down_or_refusing_the_host_fails_fast_and_leaves_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", rows=3000, epochs=2)
    repo.env = sidecar_env(repo, stack)
    client = stack.client()
    exp = client.get_experiment_by_name(EXPERIMENT_NAME)
    before = {x.info.run_id for x in client.search_runs([exp.experiment_id], max_results=1000)}

    stack.kill("mlflow")
    try:
        for script in ("retrain_model.py", "evaluate_model.py"):
            t0 = time.monotonic()
            r = stack.seen(repo.script(script, timeout=120))
            took = time.monotonic() - t0
            assert r.returncode == 2, (script, r.stderr[-1500:])
            assert f"MLflow tracking server {stack.uri} is unreachable" in r.stderr, r.stderr[-1500:]
            assert took < 30, (script, took)  # imports included; the check itself is one 5 s request
        assert candidates(repo) == [] and not (repo.root / "mlops" / ".staging").exists()
        assert local_store_is_empty(repo)  # no silent fall-back to the file store

        # The host check: --allowed-hosts REPLACES the defaults, so a list without our name refuses us.
        up = stack.sh("up", extra={"STACK_ALLOWED_HOSTS": "mlflow.example.invalid"})
        assert up.returncode == 0, up.stderr
        p = stack.seen(
            subprocess.run(
                [sys.executable, str(PREFLIGHT), "--skip-dvc"],
                env=repo.env,
                capture_output=True,
                text=True,
                timeout=60,
            )
        )
        assert p.returncode == 1 and "--allowed-hosts" in p.stdout and "Invalid Host header" in p.stdout, (
            p.stdout
        )
        r = stack.seen(repo.script("retrain_model.py", timeout=120))
        assert r.returncode == 2 and "refused an API call with 403" in r.stderr, r.stderr[-1500:]
        assert "--allowed-hosts" in r.stderr  # one plain sentence, no traceback
        assert candidates(repo) == [] and not (repo.root / "mlops" / ".staging").exists()
    finally:
        stack.kill("mlflow")
        up = stack.sh("up")
        assert up.returncode == 0, up.stderr
    after = {x.info.run_id for x in client.search_runs([exp.experiment_id], max_results=1000)}
    assert after == before  # no half-logged run


# Run as `python -c PROBE_SETUP <experiment> <registered model>`.
PROBE_SETUP = """
import sys
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
experiment, registered_model = sys.argv[1:3]
c = MlflowClient()
exp_id = c.get_experiment_by_name(experiment).experiment_id
run = c.create_run(exp_id, run_name="history_probe", tags={"kind": "probe"})
rid = run.info.run_id
c.log_batch(rid, metrics=[Metric("loss", 1.0 / (s + 1), 1_700_000_000_000 + s, s) for s in range(5)])
c.log_param(rid, "lr", "0.01")
c.log_text(rid, "hello", "notes/hello.txt")
c.set_terminated(rid, "FINISHED")
mv = c.get_model_version_by_alias(registered_model, "challenger")
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
    r = subprocess.run(
        [sys.executable, str(repo.root / "mlops" / "scripts" / "retrain_model.py")],
        env=local_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0 and "Gate: IMPROVED" in r.stderr, r.stderr[-2000:]
    source = (repo.root / "mlops" / "tracking").as_uri()
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    from mlflow.tracking import MlflowClient

    src = MlflowClient(tracking_uri=source, registry_uri=source)
    exp_id = src.get_experiment_by_name(EXPERIMENT_NAME).experiment_id
    # A run with a metric history (several steps) and a model registered under an alias nobody
    # holds on the server yet, to see both carried.
    # (In a child process whose default tracking URI is the file store: MLflow's file registry looks
    # logged models up through the global default URI, not the client's.)
    r = subprocess.run(
        [sys.executable, "-c", PROBE_SETUP, EXPERIMENT_NAME, REGISTERED_MODEL],
        capture_output=True,
        text=True,
        timeout=120,
        env={**local_env, "MLFLOW_TRACKING_URI": source, "MLFLOW_ALLOW_FILE_STORE": "true"},
    )
    assert r.returncode == 0, r.stderr[-2000:]
    pid = r.stdout.split()[-1]
    (local_retrain,) = [x for x in src.search_runs([exp_id]) if x.info.run_name.startswith("retrain_")]
    source_runs = src.search_runs([exp_id])

    dest = stack.client()
    live_challenger = dest.get_model_version_by_alias(REGISTERED_MODEL, "challenger").version
    cmd = [sys.executable, str(MIGRATE), "--source", source, "--dest", stack.uri]
    r = stack.seen(subprocess.run(cmd, env=repo.env, capture_output=True, text=True, timeout=300))
    assert r.returncode == 0, r.stderr[-3000:]
    # the retrain's run, production's (registered as champion by that first retrain) and the probe's
    assert "3 run(s) copied" in r.stderr, r.stderr[-1500:]

    dexp = dest.get_experiment_by_name(EXPERIMENT_NAME)
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
    assert dest.get_model_version_by_alias(REGISTERED_MODEL, "challenger").version == live_challenger
    assert "left as it is" in r.stderr
    assert (
        download_model(stack, "migration_probe", "champion", repo.root / "dl-migrated") / "MLmodel"
    ).is_file()

    count = len(dest.search_runs([dexp.experiment_id], max_results=1000))
    again = stack.seen(subprocess.run(cmd, env=repo.env, capture_output=True, text=True, timeout=300))
    assert again.returncode == 0 and "0 run(s) copied (3 already there)" in again.stderr, again.stderr[-1500:]
    assert len(dest.search_runs([dexp.experiment_id], max_results=1000)) == count  # nothing copied twice
    assert "0 model version(s)" in again.stderr and "0 logged model(s)" in again.stderr


@pytest.mark.timeout(1500)
def test_workflow_under_act_leaves_a_challenger_that_a_fresh_copy_promotes(
    stack: Stack, tmp_path: Path
) -> None:
    """.github/workflows/mlops.yml under act (tests/support/act.py) on a push of a new data version,
    configured as the workflow's header says: the tracking server and the ci account's credentials
    as secrets, the DVC remote and its endpoint as variables, the keys and the signing key as secrets.
    A copy that never trained (and trusts CI's key) promotes the challenger, as promoter."""
    clone = fresh_clone(tmp_path / "clone", epochs=ACT_EPOCHS)
    clone.env = sidecar_env(clone, stack)
    # Here the remote's endpoint is a local setting (.dvc/config.local, git-ignored, so the job's
    # checkout does not have it): the job gets it from the variable MLFLOW_S3_ENDPOINT_URL.
    point_dvc_at(clone, stack)
    endpoint = stack.env["MLFLOW_S3_ENDPOINT_URL"]
    digest = commit_new_data_version(clone, "s3remote", seed=12)
    versions = stack.client().search_model_versions(f"name='{REGISTERED_MODEL}'")
    before = max((int(v.version) for v in versions), default=0)
    key = ci_key()
    key.trusted_in(clone)
    ci = stack.account("ci")
    run = run_act(
        clone.root,
        "push",
        tmp_path / "act",
        variables={"DVC_REMOTE": "s3remote", "MLFLOW_S3_ENDPOINT_URL": endpoint},
        secrets={
            "MLFLOW_TRACKING_URI": stack.uri,
            **{name: ci[name] for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")},
            **{name: stack.env[name] for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")},
            **key.secret,
        },
    )
    stack.outputs.append(run.output)
    stack.seen_files.append(run.artifacts)
    print(f"\nact push with the stack's tracking server: {run.seconds:.1f} s wall")
    assert run.returncode == 0 and "Job succeeded" in run.output, run.tail()
    summary = run.summary()
    assert " improved** " in summary and "--from-registry challenger" in summary, summary

    client = stack.client()
    challenger = client.get_model_version_by_alias(REGISTERED_MODEL, "challenger")
    assert int(challenger.version) > int(before)
    (candidate,) = (run.artifacts / "mlops-candidate").iterdir()
    manifest = clone.verify(candidate)
    assert manifest["training_data"]["sha256"] == digest
    assert manifest["mlflow"]["registered_version"] == challenger.version
    # nothing went to the runner's file store: the tracking artifact holds no MLflow store
    assert not [p for p in (run.artifacts / "mlops-tracking").iterdir() if p.is_dir()]

    other = key.trusted_in(fresh_clone(tmp_path / "promote"))
    other.env = {
        **other.env,
        **{k: v for k, v in stack.account("promoter").items() if k.startswith("MLFLOW_")},
    }
    r = stack.seen(other.script("promote_model.py", "--from-registry", "challenger"))
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ARTIFACT_FILES:
        assert (other.root / "ml_model" / name).read_bytes() == (candidate / name).read_bytes(), name
    promoted = other.verify(other.root / "ml_model")
    assert promoted["model_version"] == candidate.name and promoted["artifacts"] == manifest["artifacts"]
    assert client.get_model_version_by_alias(REGISTERED_MODEL, "champion").version == challenger.version


def test_no_password_in_any_output_report_or_log(stack: Stack, pipeline_repo: Repo) -> None:
    """Every command output the tests kept (the stack's, the pipeline's, promotion's, act's log with
    its job summary), the copy's reports and tracking records, the act job's artifacts, and the
    stack's own logs (its daemons', PostgreSQL's): no account's password in any of them."""
    passwords = stack.passwords()
    assert len(stack.outputs) >= 20, len(stack.outputs)
    reports, tracking = pipeline_repo.root / "mlops" / "reports", pipeline_repo.root / "mlops" / "tracking"
    assert list(reports.glob("*.html")) and list(tracking.glob("*.json"))
    pg_log = Path((stack.state / "pg.path").read_text().strip()) / "server.log"
    paths = [reports, *tracking.glob("*.json"), stack.state / "logs", pg_log, *stack.seen_files]
    assert leaks(passwords, stack.outputs, paths) == []
    # The check finds a password where there is one.
    assert leaks(passwords, [f"x{passwords['ci']}x"], []) == ["ci in output #0"]


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
