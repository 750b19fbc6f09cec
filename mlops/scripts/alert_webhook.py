"""The scheduled job's drift alert: posted as JSON to a webhook, or as the sentence that fails the run.

Built from what the run left (``mlops/reports/daily/daily_summary.json`` and, after a retrain,
``mlops/tracking/last_retrain.json``; ``mlops/sidecar/drift_alert.py``). Two uses in the workflow:

    python mlops/scripts/alert_webhook.py --monitor-exit 3          # POST to $ALERT_WEBHOOK_URL if set
    python mlops/scripts/alert_webhook.py --monitor-exit 3 --fail   # the last step: the sentence, exit 1

Posting: exit 0 when the webhook took it (2xx) or when no webhook is set (nothing to post: exit 0
too for a monitor exit other than 3 or 4), 1 when the delivery failed (the alert is still in the log,
and the workflow's last step still fails the run), 2 when the address is not an http(s) URL. Logs
name the webhook by scheme and host only: its path or query may hold a token. ``--fail``: prints the
sentence (a GitHub error annotation under Actions) and exits 1 when there is an alert, else 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

from ml_model.common import exit_script, setup_logging
from mlops.paths import DAILY_DIR, LAST_RETRAIN, TRACKING_DIR
from mlops.sidecar.drift_alert import DeliveryError, alert_body, check_url, headline, post_json, redact
from mlops.sidecar.job_summary import load
from mlops.sidecar.job_summary_daily import DAILY_SUMMARY, DRIFT, GAP, exit_code_arg, monitor_exit_of

log = logging.getLogger(__name__)
URL_ENV = "ALERT_WEBHOOK_URL"


def main(argv: list[str] | None = None) -> int:
    """Parse arguments; post the alert (or, with --fail, fail with its sentence)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--monitor-exit",
        type=exit_code_arg,
        default=None,
        help="the daily monitor's exit code (3 persistent drift, 4 data gap); empty: read from the summary",
    )
    parser.add_argument(
        "--daily-dir",
        type=Path,
        default=DAILY_DIR,
        help=f"folder with {DAILY_SUMMARY} (default: %(default)s)",
    )
    parser.add_argument(
        "--tracking-dir",
        type=Path,
        default=TRACKING_DIR,
        help=f"folder with {LAST_RETRAIN.name} (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for the webhook (default 10)"
    )
    parser.add_argument(
        "--fail",
        action="store_true",
        help="post nothing: print the alert's sentence and exit 1 when there is one",
    )
    args = parser.parse_args(argv)
    setup_logging()
    daily = load(args.daily_dir / DAILY_SUMMARY)
    code = args.monitor_exit if args.monitor_exit is not None else monitor_exit_of(daily)
    retrain = load(args.tracking_dir / LAST_RETRAIN.name) if code == DRIFT else None
    sentence = headline(daily, retrain, code)
    if args.fail:
        return _fail(sentence, code)
    if code not in (DRIFT, GAP):
        log.info("No alert to send (the monitor's exit: %s).", code)
        return 0
    log.info("Alert: %s", sentence)
    url = os.environ.get(URL_ENV, "").strip()
    if not url:
        log.info("No webhook is set (%s is empty): nothing posted.", URL_ENV)
        return 0
    try:
        check_url(url)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    body = alert_body(daily, retrain, code, os.environ)
    try:
        status = post_json(url, body, args.timeout)
    except DeliveryError as exc:
        message = f"Could not deliver the alert to the webhook {redact(url)}: {exc}"
        log.error("%s. The alert was: %s", message, json.dumps(body, sort_keys=True))
        _annotate("error", message)
        return 1
    log.info("Alert posted to the webhook %s (HTTP %d).", redact(url), status)
    return 0


def _fail(sentence: str, code: int | None) -> int:
    """The last step: the sentence, as an error annotation under Actions; 1 when there is an alert."""
    if code not in (DRIFT, GAP):
        log.info("%s", sentence)
        return 0
    log.error("%s", sentence)
    _annotate("error", sentence, "Persistent drift" if code == DRIFT else "Data gap")
    return 1


def _annotate(level: str, message: str, title: str | None = None) -> None:
    """A GitHub annotation on the run's page (only under Actions)."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        heading = f" title={title}" if title else ""
        text = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        print(f"::{level}{heading}::{text}", flush=True)


if __name__ == "__main__":
    exit_script(main())
