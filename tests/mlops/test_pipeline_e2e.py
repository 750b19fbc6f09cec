"""End to end: the real commands on a small dataset in a temporary copy of the repository."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlops.paths import EXPERIMENT_NAME
from mlops.sidecar.simulator import simulate
from tests.support.repo import VENV_BIN, Repo, candidates

pytestmark = pytest.mark.slow


def runs(repo: Repo) -> list:
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=(repo.root / "mlops" / "tracking").as_uri())
    exp = client.get_experiment_by_name(EXPERIMENT_NAME)
    return [] if exp is None else client.search_runs([exp.experiment_id], max_results=500)


def test_retrain_evaluate_monitor_log_and_leave_production_untouched(repo: Repo) -> None:
    before = repo.tree_digest("ml_model")
    r = repo.script("retrain_model.py")
    assert r.returncode == 0, r.stderr
    assert "Gate:" in r.stderr and "Retrain finished" in r.stderr
    last = json.loads((repo.root / "mlops" / "tracking" / "last_retrain.json").read_text())
    assert set(last["candidate"]) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    retrain_runs = [x for x in runs(repo) if x.info.run_name.startswith("retrain_")]
    assert len(retrain_runs) == 1
    run = retrain_runs[0]
    assert run.info.status == "FINISHED"
    assert {
        "candidate_roc_auc",
        "production_roc_auc",
        "candidate_f1",
        "production_f1",
        "candidate_ndcg10",
    } <= set(run.data.metrics)
    assert run.data.tags["mlflow.note.content"].startswith("Retrain on data ")  # the run's description
    assert all(round(v, 4) == v for v in run.data.metrics.values())
    assert {"algorithm", "batch_size", "epochs"} <= set(run.data.params)
    assert run.data.tags["decision"] in ("improved", "rejected") and run.data.tags["reason"]
    assert run.data.tags["data_hash"] == last["data_sha256"]

    r = repo.script("evaluate_model.py")
    assert r.returncode == 0, r.stderr
    reports = list((repo.root / "mlops" / "reports").glob("evaluation_*.txt"))
    assert len(reports) == 1
    text = reports[0].read_text()
    assert "Confusion matrix" in text and "Per case_type" in text and "immigration" in text
    assert "Ranking quality" in text and "ndcg@10" in text and "truth_without_price" in text
    assert list((repo.root / "mlops" / "tracking").glob("eval_2*.json"))
    ev = next(x for x in runs(repo) if x.info.run_name.startswith("evaluate_"))
    assert ev.data.params["type"] == "production_eval" and ev.info.status == "FINISHED"
    assert {"production_roc_auc", "production_ece", "production_ndcg10"} <= set(ev.data.metrics)
    assert "held-out rows" in ev.data.tags["mlflow.note.content"]

    r = repo.script("monitor_model.py", "--current", str(repo.data))
    assert r.returncode == 0, r.stderr
    html = list((repo.root / "mlops" / "reports").glob("data_drift_report_*.html"))
    js = list((repo.root / "mlops" / "reports").glob("data_drift_report_*.json"))
    assert len(html) == 1 and len(js) == 1 and html[0].stat().st_size > 100_000
    result = json.loads(js[0].read_text())
    assert set(result["columns"]["client_income"]) == {"method", "score", "threshold", "drifted"}
    assert isinstance(result["dataset_drift"], bool)
    mon = next(x for x in runs(repo) if x.info.run_name == f"monitor_{result['timestamp']}")
    assert mon.info.status == "FINISHED" and mon.data.tags["verdict"] in ("DRIFT", "NO DRIFT")
    assert mon.data.metrics["drift_client_income"] == round(result["columns"]["client_income"]["score"], 4)
    assert mon.data.tags["mlflow.note.content"] == result["verdict"]  # the run's description
    assert mon.info.end_time - mon.info.start_time >= 1000  # from the command's start, not its logging
    assert mon.data.metrics["dataset_drift"] == int(result["dataset_drift"])
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=(repo.root / "mlops" / "tracking").as_uri())
    assert {a.path for a in client.list_artifacts(mon.info.run_id, "report")} == {
        f"report/{html[0].name}",
        f"report/{js[0].name}",
    }
    assert repo.tree_digest("ml_model") == before


def test_dvc_repro_then_nothing_then_metrics(repo: Repo) -> None:
    r = repo.dvc("repro")
    assert r.returncode == 0, r.stdout + r.stderr
    for stage in ("train", "evaluate", "monitor"):
        assert f"Running stage '{stage}'" in r.stdout
    again = repo.dvc("repro")
    assert again.returncode == 0
    assert "Running stage" not in again.stdout and "up to date" in again.stdout
    shown = repo.dvc("metrics", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    metrics = json.loads(shown.stdout)[""]["data"]  # "": the workspace
    assert set(metrics["tracking/candidate.json"]["data"]) == {"auc", "improved"}  # the path says whose
    assert set(metrics["tracking/drift.json"]["data"]) <= {"drift", "drifted"}
    assert {"auc", "ece", "ndcg10", "top3"} == set(metrics["tracking/production.json"]["data"])
    table = subprocess.run(
        [str(VENV_BIN / "dvc"), "metrics", "show"],
        cwd=repo.root / "mlops",
        env={**repo.env, "COLUMNS": "100"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert max(len(line.rstrip()) for line in table.stdout.splitlines()) <= 100, table.stdout
    _plots_draw_offline(repo)
    # scripts run by hand write their reports and runs, not the files the pipeline tracks
    tracked = repo.tree_digest("mlops/tracking")
    tracked = {
        k: v
        for k, v in tracked.items()
        if k.endswith((".done",))
        or k in ("candidate.json", "production.json", "drift.json")
        or k in ("roc.json", "calibration.json", "training_curve.json")
    }
    for script, *args in (
        ("retrain_model.py",),
        ("evaluate_model.py",),
        ("monitor_model.py", "--current", str(repo.data)),
    ):
        r = repo.script(script, *args)
        assert r.returncode == 0, r.stderr[-1500:]
    concept = repo.root / "concept.csv"  # a retrain by hand that saves a candidate, too
    simulate(12000, 19, drift="concept").to_csv(concept, index=False)
    params = yaml.safe_load((repo.root / "mlops" / "params.yaml").read_text())
    params["train"]["epochs"] = 8  # as in the crash tests: the gate lets this one in
    (repo.root / "longer.yaml").write_text(yaml.safe_dump(params))
    saved = candidates(repo)
    r = repo.script("retrain_model.py", "--data", str(concept), "--params", str(repo.root / "longer.yaml"))
    assert r.returncode == 0 and "Gate: IMPROVED" in r.stderr, r.stderr[-1500:]
    assert len(candidates(repo)) == len(saved) + 1
    after = repo.tree_digest("mlops/tracking")
    assert {k: after[k] for k in tracked} == tracked
    status = repo.dvc("status")
    assert status.returncode == 0 and "up to date" in status.stdout, status.stdout
    repo.run("git", "add", "-A")
    repo.run("git", "-c", "user.email=t@e", "-c", "user.name=t", "commit", "-q", "-m", "repro")
    params = repo.root / "mlops" / "params.yaml"
    params.write_text(params.read_text().replace("epochs: 3", "epochs: 2"))
    r = repo.dvc("repro", "train")
    assert r.returncode == 0, r.stdout + r.stderr
    diff = repo.dvc("metrics", "diff", "--json")
    assert diff.returncode == 0, diff.stderr
    assert "auc" in json.loads(diff.stdout)["tracking/candidate.json"]  # the candidate's, against the commit


def _bad_datasets(tmp: Path) -> dict[str, tuple[Path, list[str]]]:
    good = simulate(300, 5)
    out = {}

    def write(name: str, df: pd.DataFrame | None = None, text: str | None = None) -> Path:
        p = tmp / f"{name}.csv"
        if text is not None:
            p.write_bytes(text.encode("latin-1"))
        else:
            df.to_csv(p, index=False)
        return p

    out["missing_column"] = (
        write("missing_column", good.drop(columns=["urgency"])),
        ["missing column", "urgency"],
    )
    out["extra_column"] = (write("extra_column", good.assign(notes="x")), ["unexpected column", "notes"])
    wrong = good.astype(object)
    wrong.loc[9, "client_income"] = "lots"
    out["wrong_type"] = (write("wrong_type", wrong), ["column 'client_income', row 10", "not a number"])
    nan = good.astype(object)
    nan.loc[4, "lawyer_rating"] = None
    out["nan"] = (write("nan", nan), ["column 'lawyer_rating', row 5", "missing value"])
    rng = good.copy()
    rng.loc[7, "lawyer_experience_years"] = 80
    out["out_of_range"] = (write("out_of_range", rng), ["column 'lawyer_experience_years', row 8", "above"])
    vocab = good.copy()
    vocab.loc[2, "client_language"] = "klingon"
    out["vocabulary"] = (write("vocabulary", vocab), ["column 'client_language', row 3", "klingon"])
    label = good.copy()
    label.loc[0, "match"] = 2
    out["label"] = (write("label", label), ["column 'match', row 1"])
    out["no_rows"] = (write("no_rows", good.iloc[:0]), ["no data rows"])
    out["one_label"] = (
        write("one_label", good.assign(match=1)),
        ["rows has match = 1", "need both outcomes"],
    )
    out["not_csv"] = (write("not_csv", text="\x89HDF\x00\x01binary\x00" * 20), ["not_csv.csv"])
    return out


def test_bad_datasets_are_refused_cleanly(repo: Repo, tmp_path: Path) -> None:
    before_runs = {x.info.run_id for x in runs(repo)}
    before_models = candidates(repo)
    for i, (name, (path, words)) in enumerate(_bad_datasets(tmp_path).items()):
        # retrain meets every kind of bad file; evaluate and monitor (the same loader) every third
        for script in ("retrain_model.py", "evaluate_model.py")[: 2 if i % 3 == 0 else 1]:
            r = repo.script(script, "--data", str(path))
            assert r.returncode != 0, (name, script)
            assert str(path.name) in r.stderr, (name, script, r.stderr[-500:])
            for w in words:
                assert w in r.stderr, (name, script, w, r.stderr[-800:])
        if i % 3 != 1:
            continue
        r = repo.script("monitor_model.py", "--current", str(path))
        if name not in ("label", "extra_column"):  # the monitor takes unlabelled data; 'match' is optional
            assert r.returncode == 2, (name, r.stderr[-500:])
    assert candidates(repo) == before_models
    new = [x for x in runs(repo) if x.info.run_id not in before_runs]
    assert all(x.info.status != "RUNNING" for x in new)


def test_a_killed_retrain_leaves_no_candidate_and_its_run_is_closed(repo: Repo) -> None:
    big = simulate(20000, 3)
    big.to_csv(repo.data, index=False)
    params = repo.root / "mlops" / "params.yaml"
    params.write_text(params.read_text().replace("epochs: 3", "epochs: 200"))
    proc = subprocess.Popen(
        [sys.executable, str(repo.root / "mlops/scripts/retrain_model.py")],
        env=repo.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    seen = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        seen += line
        if "Epoch 2/" in line:
            break
    assert "Epoch 2/" in seen, seen[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert candidates(repo) == []
    running = [x for x in runs(repo) if x.info.status == "RUNNING"]
    assert len(running) == 1  # kill -9 cannot be caught ...
    params.write_text(params.read_text().replace("epochs: 200", "epochs: 1"))
    simulate(2000, 3).to_csv(repo.data, index=False)
    r = repo.script("retrain_model.py")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "is gone" in r.stderr  # ... so the next run closes it
    assert {x.info.status for x in runs(repo)} == {"FINISHED", "FAILED"}
    assert not list((repo.root / "mlops").glob(".staging/*"))


def test_two_retrains_at_once_one_refuses(repo: Repo) -> None:
    cmd = [sys.executable, str(repo.root / "mlops/scripts/retrain_model.py")]
    first = subprocess.Popen(cmd, env=repo.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = ""
    while "training rows" not in seen and first.poll() is None:  # logged once the lock is held
        seen += first.stderr.readline()
    second = repo.script("retrain_model.py")
    err1 = seen + first.communicate(timeout=600)[1]
    assert first.returncode == 0, err1[-2000:]
    assert second.returncode == 3 and "Another retrain is running" in second.stderr
    assert all(x.info.status == "FINISHED" for x in runs(repo))


def _plots_draw_offline(repo: Repo) -> None:
    """Plain `dvc plots show` from mlops/: ROC, calibration and the training curve, each model in its
    own colour with its ROC AUC in the legend, Vega inlined (no CDN)."""
    r = repo.dvc("plots", "show")
    assert r.returncode == 0, r.stderr
    page = (repo.root / "mlops" / "dvc_plots" / "index.html").read_text()
    assert "<script src=" not in page and "cdn.jsdelivr" not in page and "vegaEmbed=" in page
    assert page.count("vegaEmbed('#") == 3 and page.count('"field": "step"') == 0  # no junk plots
    assert '"title": "false positive rate"' in page and '"field": "fpr"' in page
    assert '"title": "mean predicted probability"' in page and '"title": "epoch"' in page
    assert page.count('"field": "model"') >= 2  # coloured by model, not by revision
    assert "candidate (ROC AUC 0." in page and "production (ROC AUC 0." in page
