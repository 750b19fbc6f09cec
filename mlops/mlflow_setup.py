"""The one place that configures MLflow for the sidecar.

Default: the spec's file store, ``file:<repo>/mlops/tracking``, resolved from the repository root
(MLflow's own default is ``sqlite:///<cwd>/mlflow.db``, which would scatter stores by directory).
``MLFLOW_TRACKING_URI`` overrides it; ``sqlite:///...`` and ``http(s)://...`` work unchanged, so
moving to a tracking server is configuration, not code.

MLflow 3.13+ put the file store in maintenance mode and refuses it unless
``MLFLOW_ALLOW_FILE_STORE=true``. We set that for ``file:`` URIs only, because the spec's store is
a file store; to leave it, migrate once with
``mlflow migrate-filestore --source mlops/tracking --target sqlite:///mlops/mlflow.db`` and set
``MLFLOW_TRACKING_URI=sqlite:///<repo>/mlops/mlflow.db``.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import unquote, urlparse, urlunparse

from mlops.paths import EXPERIMENT_NAME, TRACKING_DIR

DEFAULT_TRACKING_URI = TRACKING_DIR.as_uri()
SERVER_CHECK_TIMEOUT_S = 5.0

log = logging.getLogger(__name__)


# The runs list as a reviewer needs it, stored in the experiment as one of MLflow's shared views
# (the UI's "share view" state, opened by ``viewStateShareKey``): each command's verdict, its reason
# and the candidate's and production's ROC AUC and NDCG@10, newest first. ``review_url`` opens it.
REVIEW_VIEW_KEY = "review"
REVIEW_VIEW_TAG = f"mlflow.sharedViewState.{REVIEW_VIEW_KEY}"
REVIEW_COLUMNS = (
    "tags.`decision`",
    "tags.`verdict`",
    "metrics.`candidate_roc_auc`",
    "metrics.`production_roc_auc`",
    "metrics.`candidate_ndcg10`",
    "metrics.`production_ndcg10`",
    "tags.`reason`",
)
REVIEW_VIEW = json.dumps(
    {"selectedColumns": list(REVIEW_COLUMNS), "orderByKey": "attributes.start_time", "orderByAsc": False}
)


def review_url(base: str, experiment_id: str | None) -> str:
    """The MLflow UI address that opens on the experiment's runs in the review view (the UI
    otherwise opens GenAI's Traces page, which a file store cannot serve)."""
    if experiment_id is None:
        return f"{base}/#/experiments?workflowType=machine_learning"
    return (
        f"{base}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"
        f"&viewStateShareKey={REVIEW_VIEW_KEY}"
    )


class TrackingUnavailable(RuntimeError):
    """The tracking server does not answer: fail fast, before any work is done."""


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI when set (a server, SQLite), else the spec's file store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def redact(uri: str) -> str:
    """``uri`` as logs, errors and summaries may show it: no user name or password, no query
    values (a token in ``?token=...``). Everything we print about a store goes through this."""
    parts = urlparse(uri)
    netloc = parts.netloc.rpartition("@")[2]
    query = "&".join(f"{kv.partition('=')[0]}=***" for kv in parts.query.split("&")) if parts.query else ""
    return urlunparse(parts._replace(netloc=netloc, query=query))


def auth_headers(uri: str) -> dict[str, str]:
    """MLflow's own credentials, in its own order: the URI's user information (``http://user:pw@host``)
    over MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, Basic when both a user name and a
    password are known, else MLFLOW_TRACKING_TOKEN as a Bearer token."""
    parts = urlparse(uri)
    user = unquote(parts.username or "") or os.environ.get("MLFLOW_TRACKING_USERNAME", "")
    password = unquote(parts.password or "") or os.environ.get("MLFLOW_TRACKING_PASSWORD", "")
    if user and password:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    return {"Authorization": f"Bearer {token}"} if token else {}


def get(uri: str, path: str, timeout: float = SERVER_CHECK_TIMEOUT_S, auth: bool = True) -> Any:
    """GET ``path`` on the server ``uri`` names, with MLflow's credentials (``auth``) and without
    printing them; a redirect does not carry them to another place (the caller closes the answer)."""
    request = urllib.request.Request(redact(uri).split("?")[0].rstrip("/") + path)
    for name, value in (auth_headers(uri) if auth else {}).items():
        request.add_unredirected_header(name, value)
    return urllib.request.urlopen(request, timeout=timeout)


def _refusal(uri: str, exc: urllib.error.HTTPError) -> str:
    """What the server said when it refused, and for a host-check refusal the setting that fixes it."""
    try:
        body = exc.read().decode(errors="replace").strip()[:200]
    except OSError:
        body = ""
    if exc.code == 403 and "host" in body.lower():
        return (
            f" ({body}): the server's --allowed-hosts does not include the host name "
            f"{urlparse(redact(uri)).netloc!r}; start it with --allowed-hosts listing that name "
            "(the list REPLACES the defaults: keep localhost,127.0.0.1 in it)"
        )
    return f" ({body})" if body else ""


def check_server(uri: str) -> None:
    """Two quick requests, so a server that is down or refuses us fails in seconds, not after retries.

    /health says the server is up; one read-only API call says it accepts our Host header (/health
    is exempt from the server's host check). Raises ``TrackingUnavailable`` with one sentence that
    names the cause, and for a host-check refusal the ``--allowed-hosts`` setting that fixes it.
    """
    shown = redact(uri)
    try:
        with get(uri, "/health", auth=False) as resp:  # open on the server: no credentials sent
            if resp.status != 200:
                raise TrackingUnavailable(f"MLflow tracking server {shown} answered {resp.status} on /health")
    except urllib.error.HTTPError as exc:
        raise TrackingUnavailable(
            f"MLflow tracking server {shown} answered {exc.code} on /health{_refusal(uri, exc)}"
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise TrackingUnavailable(f"MLflow tracking server {shown} is unreachable: {exc}") from exc
    try:
        with get(uri, "/api/2.0/mlflow/experiments/search?max_results=1"):
            pass
    except urllib.error.HTTPError as exc:
        hint = " (set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD)" if exc.code == 401 else ""
        raise TrackingUnavailable(
            f"MLflow tracking server {shown} refused an API call with {exc.code}{_refusal(uri, exc)}{hint}"
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise TrackingUnavailable(
            f"MLflow tracking server {shown} did not answer an API call: {exc}"
        ) from exc


def _credentials_to_environment(uri: str) -> str:
    """A URI's user information moves into MLflow's own variables, and MLflow gets the URI without
    it: MLflow prints its tracking URI in run links and error messages."""
    parts = urlparse(uri)
    if parts.username is None:
        return uri
    os.environ["MLFLOW_TRACKING_USERNAME"] = unquote(parts.username)
    os.environ["MLFLOW_TRACKING_PASSWORD"] = unquote(parts.password or "")
    return urlunparse(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def configure() -> Any:
    """Point MLflow at our store and experiment; return the ``mlflow`` module, ready to log.

    MLflow is imported here, not at module import, because importing it is slow: a command that
    fails on its arguments, or never logs, does not pay for it.
    """
    uri = _credentials_to_environment(tracking_uri())
    scheme = urlparse(uri).scheme
    if scheme == "file":
        # MLflow 3.13+ refuses file stores without this; ours is one by the spec's design.
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
        path = urlparse(uri).path
        os.makedirs(path, exist_ok=True)
    elif scheme in ("http", "https"):
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
        check_server(uri)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # log lines, not tqdm bars
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.set_experiment(EXPERIMENT_NAME)
    # A model-training experiment, not GenAI traces: the UI lists it under "Training runs". Set once,
    # so a check (doctor.py) or a dry run writes nothing to the store.
    if experiment.tags.get("mlflow.experimentKind") != "custom_model_development":
        mlflow.set_experiment_tag("mlflow.experimentKind", "custom_model_development")
    if experiment.tags.get(REVIEW_VIEW_TAG) != REVIEW_VIEW:
        mlflow.set_experiment_tag(REVIEW_VIEW_TAG, REVIEW_VIEW)
    log.info("MLflow tracking at %s, experiment %s.", redact(uri), EXPERIMENT_NAME)
    return mlflow
