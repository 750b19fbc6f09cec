"""The default DVC remote, when it is a folder on this machine, is the operator's alone.

DVC makes its files from the pushing user's umask (world-readable by default), so the folder
itself is what keeps other users of the machine out of every data version: it is created 0700
before anything can be pushed into it, and a wider folder made earlier is reported. DVC's own
config files are read the way DVC layers them (``config``, then ``config.local``).
"""

from __future__ import annotations

import configparser
import logging
import re
import stat
from pathlib import Path

from ml_model.paths import REPO_ROOT

log = logging.getLogger(__name__)
_SECTION = re.compile(r"""'?remote "(?P<name>[^"]+)"'?""")


def default_remote_url(dvc_dir: Path = REPO_ROOT / ".dvc") -> str | None:
    """The URL of the default remote (``core.remote``), or None when none is set."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read([dvc_dir / "config", dvc_dir / "config.local"])
    name = parser.get("core", "remote", fallback=None)
    for section in parser.sections():
        m = _SECTION.fullmatch(section)
        if m and m.group("name") == name:
            return parser.get(section, "url", fallback=None)
    return None


def private_local_remote(dvc_dir: Path = REPO_ROOT / ".dvc") -> Path | None:
    """Create the default remote's folder 0700 when it is a local path; warn when it is wider."""
    url = default_remote_url(dvc_dir)
    if not url or "://" in url:
        return None
    folder = Path(url) if Path(url).is_absolute() else (dvc_dir / url).resolve()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "The DVC remote %s is mode %o: other users of this machine can read every data version "
            "(chmod 700 %s).",
            folder,
            mode,
            folder,
        )
    return folder
