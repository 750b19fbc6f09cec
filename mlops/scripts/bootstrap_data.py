"""Make sure the DVC-tracked data are in the work tree after a fresh clone (``make data``).

The dataset and the fixed equity evaluation set: present and matching their .dvc files, else
``dvc pull``, else (while the .dvc file still points at the first version) made again and checked
against its md5. The logic is ``mlops/sidecar/tracked_data.py``. Exit 1 with what to do otherwise.
"""

from __future__ import annotations

import argparse
import logging
import subprocess

from ml_model.common import exit_script, setup_logging
from mlops.sidecar.tracked_data import ensure_dataset

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and make sure the data are there; exit 1 with what to do otherwise."""
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    setup_logging()
    try:
        ensure_dataset()
    except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as exc:
        log.error("%s", exc)  # ValueError: a bad setting in params.yaml, named by Params.load
        return 1
    except KeyError as exc:
        log.error("Setting %s is missing from mlops/params.yaml.", exc)
        return 1
    return 0


if __name__ == "__main__":
    exit_script(main())
