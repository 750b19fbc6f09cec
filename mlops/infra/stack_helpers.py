"""Small helpers that ``stack.sh`` calls: waiting for a port or URL, secrets, the S3 bucket, and
the MLflow server's accounts (``stack_auth.py``).

Standard library only, except ``ensure-bucket`` (boto3). Every network call goes to the address
it is given; ``stack.sh`` only ever gives it 127.0.0.1.

    python stack_helpers.py secret 20 upper         # a random string
    python stack_helpers.py wait-http URL 60        # until URL answers with any HTTP status
    python stack_helpers.py wait-port 127.0.0.1 5433 30
    python stack_helpers.py port-free 127.0.0.1 5001   # exit 0 if nothing listens there
    python stack_helpers.py ensure-bucket ENDPOINT BUCKET 60   # keys from AWS_* variables
    python stack_helpers.py auth-accounts           # the first accounts file (passwords generated)
    python stack_helpers.py auth-setup URL FILE     # every account in FILE on the server, with its grants
    python stack_helpers.py auth-add URL FILE NAME ROLE     # one more account (a new password)
    python stack_helpers.py auth-rotate URL FILE NAME       # a new password for NAME, server and FILE

``s3_client`` is also the one S3 client of ``preflight.py``. The script itself must run on a bare
``python3`` (``STACK_PYTHON`` may be one), so it imports nothing from this repository.
"""

from __future__ import annotations

import secrets
import socket
import string
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any


def secret(n: int, kind: str = "mixed") -> str:
    """A random key of n letters and digits (``upper``: capitals only, as S3 access key ids are)."""
    alphabet = (
        string.ascii_uppercase + string.digits if kind == "upper" else string.ascii_letters + string.digits
    )
    return "".join(secrets.choice(alphabet) for _ in range(n))


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts connections there: `up` must not start on a port someone holds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host: str, port: int, timeout: float) -> bool:
    """Poll until the port accepts connections, so a daemon counts as up only once it listens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return True
        time.sleep(0.2)
    return False


def wait_http(url: str, timeout: float, want_ok: bool = False) -> bool:
    """Poll until the URL answers HTTP (with 200 if want_ok): a listening port is not yet a server."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3) as resp:
                if not want_ok or resp.status == 200:
                    return True
        except urllib.error.HTTPError:
            if not want_ok:
                return True  # it answers HTTP: up (an S3 endpoint answers 403 to anonymous calls)
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    return False


def s3_client(
    endpoint: str | None,
    access_key: str | None = None,
    secret_key: str | None = None,
    *,
    region: str = "us-east-1",
    connect_timeout: float = 3,
    read_timeout: float = 10,
) -> Any:
    """A boto3 S3 client that tries once with short timeouts: a wrong setting must fail in seconds.

    Keys left None come from boto3's usual chain (the ``AWS_*`` variables); endpoint None is AWS.
    boto3 is imported here, not at module import: `port-free` and the other helpers need not pay
    for its import.
    """
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
        config=Config(
            retries={"max_attempts": 1}, connect_timeout=connect_timeout, read_timeout=read_timeout
        ),
    )


def ensure_bucket(endpoint: str, bucket: str, timeout: float) -> None:
    """Create the bucket if missing and wait until it answers: DVC and MLflow need it at once."""
    from botocore.exceptions import BotoCoreError, ClientError

    s3 = s3_client(endpoint)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            names = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
            if bucket not in names:
                s3.create_bucket(Bucket=bucket)
                print(f"created bucket {bucket}")
            s3.head_bucket(Bucket=bucket)
            return
        except (ClientError, BotoCoreError) as exc:  # the S3 user may need a moment to propagate
            last = exc
            time.sleep(0.5)
    raise SystemExit(f"bucket {bucket} at {endpoint} not ready after {timeout:.0f} s: {last}")


def main(argv: list[str]) -> int:
    """The command line ``stack.sh`` calls; the exit status is the answer (see the module doc)."""
    cmd, *args = argv
    if cmd == "secret":
        print(secret(int(args[0]), args[1] if len(args) > 1 else "mixed"))
        return 0
    if cmd == "wait-port":
        return 0 if wait_port(args[0], int(args[1]), float(args[2])) else 1
    if cmd == "wait-http":
        return 0 if wait_http(args[0], float(args[1]), want_ok=len(args) > 2 and args[2] == "ok") else 1
    if cmd == "port-free":
        return 1 if port_open(args[0], int(args[1]), timeout=0.5) else 0
    if cmd == "ensure-bucket":
        ensure_bucket(args[0], args[1], float(args[2]))
        return 0
    if cmd.startswith("auth-"):  # run as a script, so its folder is on sys.path
        from stack_auth import auth_add, auth_rotate, auth_setup, new_accounts
    if cmd == "auth-accounts":
        sys.stdout.write(new_accounts())
        return 0
    if cmd == "auth-setup":
        auth_setup(args[0], Path(args[1]))
        return 0
    if cmd == "auth-add":
        auth_add(args[0], Path(args[1]), args[2], args[3])
        return 0
    if cmd == "auth-rotate":
        auth_rotate(args[0], Path(args[1]), args[2])
        return 0
    print(f"unknown command {cmd}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
