"""The scheduled job's alert: one plain sentence and one JSON body, and its delivery to a webhook.

When the daily monitor's persistent-drift rule fires (its exit 3) or it finds a data gap alone (4),
the job fails so that GitHub notifies someone, and posts the alert to an optional webhook
(``ALERT_WEBHOOK_URL``). Both say the same thing, built here from what the run left: the daily
summary (``daily_summary.json``: the episode's first day and reasons, the data alerts) and the
retrain record (``last_retrain.json``: the gate's decision, the candidate's version). The body
holds no rows and no secret. The webhook's address may carry a token (in its path or query), so
logs name only its scheme and host; the request follows no redirect and has a timeout.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from mlops.sidecar.job_summary_daily import DRIFT, GAP, monitor_exit_of

EVENTS = {DRIFT: "persistent_drift", GAP: "data_gap"}
USER_AGENT = "legalaid-connect-mlops-alert/1"


def _episode(daily: Mapping[str, Any]) -> dict[str, Any] | None:
    alerts = daily.get("alerts") or []
    return dict(alerts[0]) if alerts else None


def _gate(retrain: Mapping[str, Any] | None) -> tuple[dict[str, Any] | None, str | None]:
    """The gate's decision and the saved candidate's version (None when the gate kept none)."""
    if not retrain:
        return None, None
    decision = retrain.get("decision") or {}
    improved = bool(decision.get("improved"))
    gate = {
        "decision": "improved" if improved else "not improved",
        "reason": decision.get("reason"),
        "candidate": retrain.get("version"),
        "production": retrain.get("production_version"),
    }
    return gate, (retrain.get("version") if improved and retrain.get("saved_to") else None)


def headline(daily: Mapping[str, Any], retrain: Mapping[str, Any] | None, monitor_exit: int | None) -> str:
    """The alert in one plain sentence, as the failing step and the webhook say it."""
    code = monitor_exit_of(daily) if monitor_exit is None else monitor_exit
    gaps = list(daily.get("data_alerts") or [])
    episode = _episode(daily)
    if code == DRIFT:
        first = episode["first_day"] if episode else "an unknown day (no daily summary)"
        gate, version = _gate(retrain)
        if version:
            text = (
                f"Persistent drift from {first}: a candidate is in the registry as challenger ({version}); "
                "a person decides whether to promote."
            )
        elif gate:
            text = (
                f"Persistent drift from {first}: the retrained candidate {gate['candidate']} did not pass the "
                f"gate ({gate['reason']}), so there is no new challenger; a person looks at the drift."
            )
        else:
            text = (
                f"Persistent drift from {first}: the retrain left no record (see its step), so there is no "
                "new challenger; a person looks at the drift."
            )
        return text + (f" Data gap as well: {'; '.join(gaps)}." if gaps else "")
    if code == GAP:
        return (
            f"Data gap: {'; '.join(gaps) or 'see the daily summary'}. The monitor cannot judge what was "
            "not shipped: check the shippers (scripts/ship_logs.py)."
        )
    return "No alert: the daily monitor raised nothing."


def alert_body(
    daily: Mapping[str, Any],
    retrain: Mapping[str, Any] | None,
    monitor_exit: int | None,
    env: Mapping[str, str],
) -> dict[str, Any]:
    """The JSON the webhook receives: event, repository, run URL, the episode's first day and
    reasons, the data alerts, the gate's decision and the candidate's version (or null)."""
    code = monitor_exit_of(daily) if monitor_exit is None else monitor_exit
    gate, version = _gate(retrain if code == DRIFT else None)
    episode = _episode(daily)
    repository = env.get("GITHUB_REPOSITORY") or None
    run_id = env.get("GITHUB_RUN_ID")
    server = env.get("GITHUB_SERVER_URL") or "https://github.com"
    return {
        "event": EVENTS.get(code, "none"),
        "message": headline(daily, retrain, code),
        "repository": repository,
        "run_url": f"{server}/{repository}/actions/runs/{run_id}" if repository and run_id else None,
        "as_of": daily.get("as_of"),
        "episode": {
            "first_day": episode.get("first_day"),
            "last_day": episode.get("last_day"),
            "reasons": list(episode.get("reasons") or []),
        }
        if episode
        else None,
        "episodes": len(daily.get("alerts") or []),
        "data_alerts": list(daily.get("data_alerts") or []),
        "gate": gate,
        "candidate_version": version,
    }


def check_url(url: str) -> None:
    """An http(s) address with a host; the error names the setting, never the address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        scheme = parts.scheme or "none"
        raise ValueError(
            f"ALERT_WEBHOOK_URL must be an http:// or https:// URL with a host (scheme: {scheme})"
        )


def redact(url: str) -> str:
    """What a log may say of the webhook: its scheme, host and port; no user, path or query."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    tail = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}{tail}"


def scrub(text: str, url: str) -> str:
    """``text`` with every part of ``url`` that could hold a token (user, password, path, query)
    replaced by ``…``, longest first."""
    parts = urlsplit(url)
    secrets = {url, parts.path, parts.query, parts.username or "", parts.password or ""}
    for secret in sorted(secrets - {"", "/"}, key=len, reverse=True):
        text = text.replace(secret, "…")
    return text


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx is a failure: a redirected POST would be resent elsewhere, or as a GET without its body."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class DeliveryError(RuntimeError):
    """The webhook did not take the alert; the message is safe to log."""


def post_json(url: str, body: Mapping[str, Any], timeout: float) -> int:
    """POST ``body`` as JSON; the HTTP status (2xx), else DeliveryError with a scrubbed reason."""
    check_url(url)
    request = urllib.request.Request(
        url,
        data=json.dumps(body, sort_keys=True).encode("utf-8"),
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        method="POST",
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code} {scrub(str(exc.reason), url)}") from None
    except urllib.error.URLError as exc:
        raise DeliveryError(scrub(str(exc.reason), url)) from None
    except (OSError, ValueError, http.client.HTTPException) as exc:  # a timeout, a reset, a bad answer
        raise DeliveryError(f"{type(exc).__name__}: {scrub(str(exc), url)}") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status}")
    return status
