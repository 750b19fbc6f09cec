"""The MLflow server's accounts (the basic-auth app), for ``stack.sh`` through ``stack_helpers.py``.

Standard library only, and nothing from this repository: it runs on a bare ``python3``. Every
call goes to the address it is given (127.0.0.1 from ``stack.sh``). Passwords are generated here,
kept in the stack's accounts file (0600) and never printed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import string
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def password(n: int) -> str:
    """A random password of n letters and digits."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


# ---------------------------------------------------------------------------------------------
# MLflow accounts (the basic-auth app). What each role may do is these wildcard grants on top of the
# server's default_permission (READ): MLflow checks experiments and registered models, not aliases.
# ---------------------------------------------------------------------------------------------
ADMIN = "admin"
ROLES: dict[str, tuple[tuple[str, str], ...]] = {
    # Register versions, move and delete aliases (champion), delete versions; close the runs and
    # logged models a killed retrain left (promotion repairs them first). No new runs.
    "promoter": (("registered_model", "MANAGE"), ("run", "EDIT"), ("logged_model", "EDIT")),
    # Create runs and log to them, register candidates and set their alias (challenger).
    "ci": (("experiment", "EDIT"), ("registered_model", "EDIT")),
    "reader": (),  # default_permission: read everything, write nothing
}
ACCOUNTS = (ADMIN, "promoter", "ci", "reader")  # created at the first start, each its own role
PASSWORD_LEN = 32  # MLflow wants at least 12
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Account:
    """One line of the accounts file: ``name role password``."""

    name: str
    role: str
    password: str


def new_accounts() -> str:
    """The first accounts file: one account per role, each with its own random password."""
    lines = ["# MLflow accounts of this stack: name role password. Mode 0600; never commit or print."]
    lines += [f"{name} {name} {password(PASSWORD_LEN)}" for name in ACCOUNTS]
    return "\n".join(lines) + "\n"


def read_accounts(path: Path) -> list[Account]:
    """The accounts in ``path`` (comments and blank lines skipped)."""
    out = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, role, password = line.split()
            out.append(Account(name, role, password))
    return out


def write_accounts(path: Path, accounts: list[Account]) -> Path:
    """The accounts file's next content in a 0600 file beside it (the caller renames it into place
    once the server agrees, so file and server never disagree on a password)."""
    head = path.read_text().splitlines()[0]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".accounts.")  # mode 0600
    with os.fdopen(fd, "w") as fh:
        fh.write(head + "\n" + "".join(f"{a.name} {a.role} {a.password}\n" for a in accounts))
    return Path(tmp)


def api(
    base: str, method: str, path: str, who: Account, body: dict[str, Any] | None = None
) -> tuple[int, str]:
    """One authenticated call to the MLflow server: (HTTP status, body). The password goes only in
    the Authorization header (never in the URL, never across a redirect)."""
    url = base.rstrip("/") + path
    data = None
    if body is not None and method == "GET":
        url += "?" + urllib.parse.urlencode(body)
    elif body is not None:
        data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    token = base64.b64encode(f"{who.name}:{who.password}".encode()).decode()
    request.add_unredirected_header("Authorization", f"Basic {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def _ok(status: int, text: str, what: str) -> None:
    """Stop with what failed, naming the Host check when that is the cause (STACK_ALLOWED_HOSTS)."""
    if status == 200:
        return
    hint = " (STACK_ALLOWED_HOSTS must include 127.0.0.1)" if "Invalid Host header" in text else ""
    raise SystemExit(f"{what}: the MLflow server answered {status}{hint}: {text[:200]}")


def _grant(base: str, admin: Account, name: str, resource_type: str, permission: str) -> None:
    """Grant ``permission`` on every resource of a type; an existing grant is replaced, so the
    role's table above is what holds."""
    body = {"username": name, "resource_type": resource_type, "resource_id": "*", "permission": permission}
    status, text = api(base, "POST", "/api/3.0/mlflow/users/permissions/grant", admin, body)
    if status == 400 and "RESOURCE_ALREADY_EXISTS" in text:
        del body["permission"]
        _ok(*api(base, "POST", "/api/3.0/mlflow/users/permissions/revoke", admin, body), f"revoke {name}")
        body["permission"] = permission
        status, text = api(base, "POST", "/api/3.0/mlflow/users/permissions/grant", admin, body)
    _ok(status, text, f"grant {permission} on {resource_type} to {name}")


def _can_log_in(base: str, who: Account) -> None:
    """Stop unless the server takes this account's password (the file and the server agree)."""
    status, _ = api(base, "GET", "/api/2.0/mlflow/users/current", who)
    if status == 401:
        raise SystemExit(
            f"the MLflow server refuses the password of account {who.name} in the accounts file; "
            f"set a new one with: stack.sh rotate {who.name}"
        )
    _ok(status, "", f"log in as {who.name}")


def ensure_account(base: str, admin: Account, who: Account) -> None:
    """The account on the server (created if missing) with its role's grants, and its password good."""
    if who.role not in ROLES:
        raise SystemExit(f"account {who.name}: unknown role {who.role} (roles: {', '.join(ROLES)})")
    status, text = api(base, "GET", "/api/2.0/mlflow/users/get", admin, {"username": who.name})
    if status == 404:
        body = {"username": who.name, "password": who.password}
        _ok(*api(base, "POST", "/api/2.0/mlflow/users/create", admin, body), f"create account {who.name}")
        print(f"[stack] MLflow account {who.name} ({who.role}) created", file=sys.stderr)
    else:
        _ok(status, text, f"look up account {who.name}")
    for resource_type, permission in ROLES[who.role]:
        _grant(base, admin, who.name, resource_type, permission)
    _can_log_in(base, who)


def auth_setup(base: str, path: Path) -> None:
    """Every account of the file on the server, each with its role's grants (idempotent)."""
    accounts = read_accounts(path)
    admin = next(a for a in accounts if a.name == ADMIN)
    _can_log_in(base, admin)
    for who in accounts:
        if who.name != ADMIN:
            ensure_account(base, admin, who)


def auth_add(base: str, path: Path, name: str, role: str) -> None:
    """One more account with a role of ROLES and a new password, on the server and in the file."""
    accounts = read_accounts(path)
    if not NAME.fullmatch(name) or any(a.name == name for a in accounts):
        raise SystemExit(f"account name {name!r} is taken or not of letters, digits, '_', '.', '-'")
    if role not in ROLES:
        raise SystemExit(f"unknown role {role} (roles: {', '.join(ROLES)})")
    who = Account(name, role, password(PASSWORD_LEN))
    tmp = write_accounts(path, [*accounts, who])
    try:
        ensure_account(base, next(a for a in accounts if a.name == ADMIN), who)
    except BaseException:
        tmp.unlink()
        raise
    tmp.replace(path)


def auth_rotate(base: str, path: Path, name: str) -> None:
    """A new password for ``name``: set on the server by the admin (the admin's own with its
    current one, as MLflow asks), then written to the file."""
    accounts = read_accounts(path)
    admin = next(a for a in accounts if a.name == ADMIN)
    old = next((a for a in accounts if a.name == name), None)
    if old is None:
        raise SystemExit(f"no account {name} in {path}")
    new = Account(name, old.role, password(PASSWORD_LEN))
    tmp = write_accounts(path, [new if a.name == name else a for a in accounts])
    body = {"username": name, "password": new.password}
    if name == ADMIN:
        body["current_password"] = old.password
    try:
        _ok(*api(base, "PATCH", "/api/2.0/mlflow/users/update-password", admin, body), f"rotate {name}")
        _can_log_in(base, new)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
    print(f"[stack] new password for MLflow account {name} in {path}", file=sys.stderr)
