"""Evidently's own UI over the daily monitor's workspace: ``make monitor-ui``.

Prints the project's dashboard address, then runs ``evidently ui`` on 127.0.0.1 (port
``MONITOR_UI_PORT``, default 5003: Evidently's own default, 8000, is the match service's) in the
foreground, with its telemetry off (``DO_NOT_TRACK=1``: without it the UI sends usage data, FACTS).
The workspace is ``--workspace`` (default ``mlops/workspace``, filled by
``monitor_model.py --store ... --daily``). ``--url-only`` prints the address and exits; exit 2
when there is no workspace yet (run the daily monitor first).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mlops.paths import WORKSPACE_DIR

DEFAULT_PORT = 5003


def project_url(workspace: Path, port: int) -> str:
    """The dashboard of the daily project, or the projects list before it exists."""
    from mlops.sidecar.workspace import PROJECT

    base = f"http://127.0.0.1:{port}"
    for meta in sorted(workspace.glob("*/metadata.json")):
        text = meta.read_text(encoding="utf-8")
        if f'"{PROJECT}"' in text:
            return f"{base}/projects/{meta.parent.name}"
    return base


def main(argv: list[str] | None = None) -> int:
    """Print the address, then run the UI (or only print with --url-only)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, default=WORKSPACE_DIR, help="the Evidently workspace")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("MONITOR_UI_PORT") or DEFAULT_PORT),
        help="port on 127.0.0.1",
    )
    parser.add_argument("--url-only", action="store_true", help="print the address and exit")
    args = parser.parse_args(argv)
    workspace = args.workspace.resolve()
    if not workspace.is_dir():
        print(
            f"No workspace at {workspace}: run `python mlops/scripts/monitor_model.py --store logs/store --daily` first.",
            file=sys.stderr,
        )
        return 2
    print(f"Evidently UI (daily monitor): {project_url(workspace, args.port)}", flush=True)
    if args.url_only:
        return 0
    evidently = str(Path(sys.executable).parent / "evidently")
    os.environ["DO_NOT_TRACK"] = "1"
    cmd = [evidently, "ui", "--workspace", str(workspace), "--host", "127.0.0.1", "--port", str(args.port)]
    os.execv(evidently, cmd)


if __name__ == "__main__":
    sys.exit(main())
