"""The scheduled job's alert (mlops/sidecar/drift_alert.py): its sentence and JSON body for each
outcome, what a log may say of the webhook's address, and the delivery's failures. The command:
tests/mlops/test_alert_webhook.py."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from mlops.sidecar.drift_alert import DeliveryError, alert_body, check_url, headline, post_json, redact, scrub
from tests.mlops.sidecar.test_job_summary import retrain_record
from tests.mlops.sidecar.test_job_summary_daily import drift_run, quiet_run
from tests.mlops.webhook_server import Webhook, webhook_server
from tests.support.ports import free_port

ENV = {
    "GITHUB_REPOSITORY": "legalaid/connect",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_SERVER_URL": "https://github.com",
}


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    """The local webhook, reached directly even where a proxy is configured."""
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    with webhook_server() as server:
        yield server


def test_the_sentence_for_each_outcome() -> None:
    daily = drift_run()
    assert headline(daily, retrain_record(), 3) == (
        "Persistent drift from 2026-11-29: a candidate is in the registry as challenger (v20261127_101500); "
        "a person decides whether to promote."
    )
    rejected = headline(daily, retrain_record(improved=False, saved=False), 3)
    assert rejected.startswith(
        "Persistent drift from 2026-11-29: the retrained candidate v20261127_101500 did not"
    )
    assert "(roc_auc below the floor)" in rejected and "no new challenger" in rejected
    assert "the retrain left no record" in headline(daily, None, 3)
    gap = {**quiet_run(), "data_alerts": ["no prediction was shipped for 2026-12-01 (a missing day)"]}
    assert headline(gap, None, 4).startswith(
        "Data gap: no prediction was shipped for 2026-12-01 (a missing day)."
    )
    assert headline({**daily, "data_alerts": ["host a stalled"]}, None, 3).endswith(
        "Data gap as well: host a stalled."
    )
    assert headline(quiet_run(), None, 0).startswith("No alert")
    assert headline({}, None, 3).startswith("Persistent drift from an unknown day")


def test_the_body_names_event_run_episode_gate_and_candidate() -> None:
    body = alert_body(drift_run(), retrain_record(), 3, ENV)
    assert body["event"] == "persistent_drift"
    assert body["repository"] == "legalaid/connect"
    assert body["run_url"] == "https://github.com/legalaid/connect/actions/runs/4242"
    assert body["episode"]["first_day"] == "2026-11-29" and body["episode"]["last_day"] == "2026-11-30"
    assert body["episode"]["reasons"][0] == "2026-11-27: key feature drifted: lawyer_hourly_rate"
    assert body["gate"]["decision"] == "improved" and body["candidate_version"] == "v20261127_101500"
    assert body["message"].startswith("Persistent drift from 2026-11-29")
    rejected = alert_body(drift_run(), retrain_record(improved=False, saved=False), 3, ENV)
    assert rejected["gate"]["decision"] == "not improved" and rejected["candidate_version"] is None
    gap = alert_body({**quiet_run(), "data_alerts": ["x"]}, retrain_record(), 4, {})
    assert gap["event"] == "data_gap" and gap["gate"] is None and gap["episode"] is None
    assert gap["run_url"] is None and gap["data_alerts"] == ["x"]
    json.dumps(body)  # serialisable as is


def test_logs_name_the_webhook_without_its_token() -> None:
    url = "https://user:pw@hooks.example.org:8443/services/T0/B0/SECRETPATH?token=SECRETQUERY"
    assert redact(url) == "https://hooks.example.org:8443/…"
    assert redact("http://127.0.0.1:9/") == "http://127.0.0.1:9"
    said = scrub(f"cannot reach {url}; query token=SECRETQUERY; path /services/T0/B0/SECRETPATH", url)
    assert "SECRET" not in said and "pw" not in said
    for bad in ("ftp://host/x", "hooks.example.org/x", "https:///x", "file:///etc/passwd"):
        with pytest.raises(ValueError, match="ALERT_WEBHOOK_URL must be an http"):
            check_url(bad)


def test_post_json_delivers_the_body(hook: Webhook) -> None:
    assert post_json(hook.url("/hook?token=abc"), {"event": "persistent_drift"}, timeout=10) == 204
    (got,) = hook.received
    assert got.path == "/hook?token=abc" and got.content_type == "application/json"
    assert json.loads(got.body) == {"event": "persistent_drift"}


def test_delivery_failures_are_named_without_the_address(hook: Webhook) -> None:
    for path, expected in (("/fail/SECRETPATH?t=SECRETQ", "HTTP 500"), ("/redirect?t=SECRETQ", "HTTP 302")):
        with pytest.raises(DeliveryError, match=expected) as info:
            post_json(hook.url(path), {"event": "x"}, timeout=10)
        assert "SECRET" not in str(info.value)
    assert [r.path for r in hook.received] == [
        "/fail/SECRETPATH?t=SECRETQ",
        "/redirect?t=SECRETQ",
    ]  # no redirect followed
    with pytest.raises(DeliveryError, match="refused") as info:
        post_json(f"http://127.0.0.1:{free_port()}/x?t=SECRETQ", {}, timeout=10)
    assert "SECRET" not in str(info.value)


def test_a_webhook_that_never_answers_times_out() -> None:
    with socket.socket() as listener:  # accepts connections (the backlog) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with pytest.raises(DeliveryError, match="timed out"):
            post_json(f"http://127.0.0.1:{port}/x", {}, timeout=0.5)
