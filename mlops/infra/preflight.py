"""Check the settings the sidecar and DVC will use against the real services; name the wrong one.

    eval "$(mlops/infra/stack.sh env)"
    python mlops/infra/preflight.py                 # MLflow server + the DVC remote $DVC_REMOTE
    python mlops/infra/preflight.py --remote s3remote --skip-mlflow

One line per check, ``ok`` or ``FAIL`` with what to change; exit status 1 if any check failed.
It only reads: GET /health, one experiment search (the sidecar's own ``check_server``) and one
artifact listing on the MLflow server, one object listing in the DVC remote's bucket. Needs no DVC import (reads .dvc/config and .dvc/config.local itself).
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import re
import socket
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ml_model.paths import REPO_ROOT
from mlops.infra.stack_helpers import s3_client
from mlops.mlflow_setup import TrackingUnavailable, check_server, get, redact

TIMEOUT_S = 5.0


@dataclass
class Check:
    """One finding: ok or not, and a sentence naming the setting, so a failure says what to change."""

    ok: bool
    what: str

    def line(self) -> str:
        """The printed line, ``ok`` or ``FAIL`` first, so the output greps and reads at a glance."""
        return f"{'ok  ' if self.ok else 'FAIL'} {self.what}"


# --------------------------------------------------------------------------------------------
# MLflow
# --------------------------------------------------------------------------------------------
def check_mlflow(uri: str | None) -> list[Check]:
    """The tracking server the sidecar will use: up, accepting our host name, reaching its store."""
    if not uri:
        return [Check(True, "MLFLOW_TRACKING_URI is not set: the sidecar uses the embedded file store")]
    if urlparse(uri).scheme not in ("http", "https"):
        return [Check(True, f"MLFLOW_TRACKING_URI={redact(uri)} is not a server; nothing to reach")]
    # The sidecar's own start-up check (/health, then one API call, which the host check sees).
    try:
        check_server(uri)
    except TrackingUnavailable as exc:
        return [Check(False, f"MLFLOW_TRACKING_URI={redact(uri)}: {exc}")]
    checks = [
        Check(True, f"MLFLOW_TRACKING_URI={redact(uri)} answers /health"),
        Check(True, "the server accepts API calls for this host name"),
    ]
    # The server's own object-store keys: list the artifact root through its proxy.
    try:
        with get(uri, "/api/2.0/mlflow-artifacts/artifacts?path=", timeout=15) as resp:
            json.loads(resp.read() or b"{}")
        checks.append(Check(True, "the server reaches its artifact store"))
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        if exc.code == 404 or "not enabled" in body.lower() or "serve-artifacts" in body:
            checks.append(Check(True, "the server does not proxy artifacts (clients write them directly)"))
        else:
            why = _s3_hint(body) or body[:300]
            checks.append(
                Check(False, f"the server at {redact(uri)} cannot use its artifact store: {exc.code} {why}")
            )
    except (urllib.error.URLError, OSError) as exc:
        checks.append(Check(False, f"listing artifacts through {redact(uri)} failed: {exc}"))
    return checks


def _s3_hint(text: str) -> str:
    """What an S3 error in the server's answer means for the server's own settings."""
    if "InvalidAccessKeyId" in text:
        return "(the server's AWS_ACCESS_KEY_ID is unknown to the object store)"
    if "SignatureDoesNotMatch" in text:
        return "(the server's AWS_SECRET_ACCESS_KEY does not match its AWS_ACCESS_KEY_ID)"
    if "NoSuchBucket" in text:
        return "(the bucket of --artifacts-destination does not exist)"
    if "Failed to list artifacts" in text and ("UNAUTHENTICATED" in text or "PERMISSION_DENIED" in text):
        return (
            "(the object store refused the server's keys: check AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY in the server's environment)"
        )
    if "Could not connect" in text or "EndpointConnectionError" in text:
        return "(the object store at the server's MLFLOW_S3_ENDPOINT_URL does not answer)"
    return ""


# --------------------------------------------------------------------------------------------
# DVC remote
# --------------------------------------------------------------------------------------------
def dvc_remote(repo: Path, name: str | None) -> tuple[str, dict[str, str], dict[str, str]]:
    """(name, merged settings, where each setting came from) from .dvc/config and config.local.

    Read here rather than through DVC, so the check needs no DVC import and stays quick.
    """
    merged: dict[str, str] = {}
    source: dict[str, str] = {}
    default = None
    for fname in ("config", "config.local"):
        path = repo / ".dvc" / fname
        if not path.is_file():
            continue
        cp = configparser.ConfigParser()
        cp.read(path)
        if cp.has_option("core", "remote"):
            default = cp.get("core", "remote")
        for section in cp.sections():
            m = re.fullmatch(r"""'?remote\s+"([^"]+)"'?""", section)
            if m and m.group(1) == (name or default):
                for k, v in cp.items(section):
                    merged[k] = v
                    source[k] = f".dvc/{fname}"
    return (name or default or ""), merged, source


def _credential(
    name: str, conf: dict[str, str], where: dict[str, str], option: str, env: str
) -> tuple[str | None, str]:
    """A key from the remote's config (naming the file it is in) or else from the environment."""
    if option in conf:
        return conf[option], f"remote.{name}.{option} in {where[option]}"
    return os.environ.get(env), env


def check_dvc(repo: Path, name: str | None) -> list[Check]:
    """The DVC remote: endpoint answers, keys accepted, bucket readable; names the setting if not."""
    name, conf, where = dvc_remote(repo, name)
    if not name or "url" not in conf:
        return [Check(False, f"no DVC remote {name or '(default)'} in {repo}/.dvc/config")]
    url = conf["url"]
    if not url.startswith("s3://"):
        return [Check(True, f"DVC remote {name} is {url}, not S3; nothing to reach")]
    endpoint = (
        conf.get("endpointurl") or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    )
    ep_setting = f"remote.{name}.endpointurl in {where.get('endpointurl', 'the environment')}"
    bucket, _, prefix = url[len("s3://") :].partition("/")
    checks: list[Check] = []
    if endpoint:
        answers = _endpoint_answers(endpoint, ep_setting)
        if not answers.ok:
            return [answers]
        checks.append(answers)
    key, key_name = _credential(name, conf, where, "access_key_id", "AWS_ACCESS_KEY_ID")
    sec, sec_name = _credential(name, conf, where, "secret_access_key", "AWS_SECRET_ACCESS_KEY")
    if not key or not sec:
        missing = " and ".join(n for n, v in ((key_name, key), (sec_name, sec)) if not v)
        how = f'eval "$(mlops/infra/stack.sh env)", or dvc remote modify --local {name} access_key_id/secret_access_key'
        return [*checks, Check(False, f"{missing} not set ({how})")]
    region = conf.get("region") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    s3 = s3_client(endpoint, key, sec, region=region, connect_timeout=TIMEOUT_S, read_timeout=15)
    why = _listing_fails(s3, bucket, prefix, key_name, sec_name, f"remote.{name}.url in {where.get('url')}")
    if why:
        return [*checks, Check(False, f"DVC remote {name} ({url}): {why}")]
    return [
        *checks,
        Check(True, f"DVC remote {name} ({url}): {key_name}/{sec_name} accepted, bucket readable"),
    ]


def _endpoint_answers(endpoint: str, setting: str) -> Check:
    """Whether the object store's endpoint accepts a connection, naming the setting it came from."""
    p = urlparse(endpoint)
    try:
        socket.create_connection(
            (p.hostname, p.port or (443 if p.scheme == "https" else 80)), TIMEOUT_S
        ).close()
    except OSError as exc:
        return Check(False, f"object store {endpoint} ({setting}) does not answer: {exc}")
    return Check(True, f"object store {endpoint} answers ({setting})")


def _listing_fails(
    s3: Any, bucket: str, prefix: str, key_name: str, sec_name: str, url_setting: str
) -> str | None:
    """Why one object listing in the bucket fails, naming the setting to change; None when it works."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        return {
            "InvalidAccessKeyId": f"{key_name} is not known to the object store",
            "SignatureDoesNotMatch": f"{sec_name} does not match {key_name}",
            "NoSuchBucket": f"bucket {bucket} does not exist ({url_setting})",
            "AccessDenied": f"the keys ({key_name}) are valid but may not list bucket {bucket}",
        }.get(code, f"{code or exc}")
    except BotoCoreError as exc:
        return str(exc)
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the checks, print one line each; exit 1 if any failed, so CI stops before the real work."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="repository whose .dvc/config to read")
    parser.add_argument(
        "--remote",
        default=os.environ.get("DVC_REMOTE"),
        help="DVC remote to check (default: $DVC_REMOTE, else the default remote)",
    )
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--skip-dvc", action="store_true")
    args = parser.parse_args(argv)
    checks: list[Check] = []
    if not args.skip_mlflow:
        checks += check_mlflow(os.environ.get("MLFLOW_TRACKING_URI"))
    if not args.skip_dvc:
        checks += check_dvc(args.repo, args.remote)
    for c in checks:
        print(c.line())
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
