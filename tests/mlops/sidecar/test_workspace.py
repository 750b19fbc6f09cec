"""The daily monitor's Evidently workspace: two snapshots a day, replaced not doubled, expired by day."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from mlops.sidecar.daily_day import DayRecord
from mlops.sidecar.workspace import DailyWorkspace, expire_days, numbers


def record(day: str, verdict: str = "NO DRIFT", **extra: object) -> DayRecord:
    base = dict(
        day=day, pairs=5000, tested=1200, verdict=verdict, verdict_line=verdict, share_drifted=0.0,
        drifted_columns=[], key_drifted=[], model_versions=["v1"], reference_auc=0.88,
    )  # fmt: skip
    return DayRecord(**{**base, **extra})


def test_numbers_show_no_verdict_days_as_such_and_leave_gaps_for_missing_values() -> None:
    judged = numbers(record("2026-11-01", "DRIFT", estimated_roc_auc=0.87, realized_roc_auc=None))
    assert judged["drift"] == 1.0 and judged["no_verdict"] == 0.0 and "realized_roc_auc" not in judged
    unjudged = numbers(record("2026-11-02", "NO VERDICT"))
    assert "drift" not in unjudged and unjudged["no_verdict"] == 1.0


def test_a_day_put_twice_is_replaced_and_old_days_expire(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    ws = DailyWorkspace(root)
    for day in ("2026-08-01", "2026-11-01"):
        ws.put_day(record(day), None)
    ws.put_day(record("2026-11-01", labelled_pairs=1200, realized_roc_auc=0.86), None)  # outcomes arrived
    snapshots = lambda: sorted(p.stem for p in root.glob("*/snapshots/*.json"))  # noqa: E731
    assert len(snapshots()) == 2
    assert DailyWorkspace(root).project.id == ws.project.id  # one project, found again
    assert expire_days(root, date(2026, 9, 1), apply=False) == ["2026-08-01"]
    assert len(snapshots()) == 2  # a dry run removes nothing
    assert expire_days(root, date(2026, 9, 1), apply=True) == ["2026-08-01"]
    assert json.loads((root / "index.json").read_text()) == {
        "2026-11-01": {"drift": None, "numbers": snapshots()[0]}
    }
    assert expire_days(root, date(2026, 9, 1), apply=True) == []


def test_privacy_expire_covers_the_dashboard_and_the_alert_records(tmp_path: Path, monkeypatch) -> None:
    """``privacy.py expire``'s action: snapshots and alert records past the reports' limit go, a dry
    run only says so, and newer ones stay."""
    from datetime import UTC, datetime, timedelta

    from clientdata import actions
    from clientdata.config import Retention, Stores

    monkeypatch.setattr(actions, "_data_versions", lambda *a: None)  # DVC's cache is not this test's
    now = datetime.now(UTC)
    old, new = (now - timedelta(days=200)).date(), (now - timedelta(days=2)).date()
    ws_root, reports = tmp_path / "workspace", tmp_path / "reports"
    ws = DailyWorkspace(ws_root)
    for day in (old, new):
        ws.put_day(record(str(day)), None)
    (reports / "daily").mkdir(parents=True)
    for day in (old, new):
        (reports / "daily" / f"alert_{day}.json").write_text("{}")
    stores = Stores(
        prediction_log=tmp_path / "logs" / "predictions.jsonl", database=tmp_path / "db" / "x.db",
        exports=tmp_path / "exports", unstored=tmp_path / "db" / "u.jsonl", reports=reports,
        data=tmp_path / "data", log_store=str(tmp_path / "logs" / "store"), workspace=ws_root,
    )  # fmt: skip
    dry = actions.expire(stores, Retention.load(), now, apply=False)
    assert any("Would delete the dashboard's snapshots of 1 day(s)" in s for s in dry.done), dry.done
    assert dry.problems == []
    assert len(list(ws_root.glob("*/snapshots/*.json"))) == 2
    actions.expire(stores, Retention.load(), now, apply=True)
    assert list(json.loads((ws_root / "index.json").read_text())) == [str(new)]
    assert len(list(ws_root.glob("*/snapshots/*.json"))) == 1
    assert sorted(p.name for p in (reports / "daily").iterdir()) == [f"alert_{new}.json"]
