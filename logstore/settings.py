"""Where the log store is and what this host is called: resolved once, the same for every command.

The shipper (``scripts/ship_logs.py``) and ``scripts/privacy.py`` both find the store here, so the
command that erases a client's match looks where the shipper put it. No pyarrow import: the
privacy command reads these settings even on a host with no store.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from pathlib import Path

from ml_model.paths import DEFAULT_PREDICTION_LOG

STORE_ENV = "LOG_STORE"
HOST_ENV = "LOG_HOST"
HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


def prediction_log(env: Mapping[str, str] = os.environ) -> Path:
    """``PREDICTION_LOG`` exactly as the service reads it (ml_model/match_service.py)."""
    return Path(env.get("PREDICTION_LOG") or DEFAULT_PREDICTION_LOG)


def store_uri(log: Path, env: Mapping[str, str] = os.environ, given: str | None = None) -> str:
    """``given`` (``--store``), else ``LOG_STORE``, else the folder ``store/`` beside the log."""
    return given or env.get(STORE_ENV) or str(log.parent / "store")


def host_name(env: Mapping[str, str] = os.environ, given: str | None = None) -> str:
    """``given`` (``--host``), else ``LOG_HOST``, else the machine's name (its first label)."""
    name = given or env.get(HOST_ENV) or socket.gethostname().split(".")[0]
    return check_host(name)


def check_host(name: str) -> str:
    """A host name is a folder name in the store: letters, digits, ``.``, ``_``, ``-``; at most 63."""
    if not HOST_NAME.fullmatch(name or ""):
        raise ValueError(
            f"host name {name!r} is not usable in the store: 1 to 63 letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit (set --host or {HOST_ENV})"
        )
    return name
