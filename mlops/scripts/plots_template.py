"""DVC's HTML template for `dvc plots show`, with Vega inlined so the page draws offline.

Writes ``mlops/plots/offline_template.html`` (``.dvc/config`` names it) from the pinned npm
bundles in ``tools/vega``; ``make`` runs it. The page itself is ``mlops/sidecar/plots_template.py``.
Exit 2 when the npm bundles are not installed.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ml_model.common import atomic_write_text, exit_script, setup_logging
from mlops.paths import PLOTS_TEMPLATE
from mlops.sidecar.plots_template import render

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Write the template atomically; exit 2 when the npm bundles are not installed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=PLOTS_TEMPLATE, help="where the template goes")
    args = parser.parse_args(argv)
    setup_logging()
    try:
        text = render()
    except FileNotFoundError as exc:
        log.error("%s", exc)
        return 2
    atomic_write_text(args.out, text)
    log.info("Wrote %s (%d KB): `dvc plots show` now works offline.", args.out, len(text) // 1024)
    return 0


if __name__ == "__main__":
    exit_script(main())
