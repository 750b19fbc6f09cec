"""Score the production model on fresh simulator data against what is achievable.

Prints, as JSON, the Bayes-optimal ROC AUC of fresh rows (the ceiling), production's, and that
of gradient boosting trained on production's own rows (the baseline), with calibration errors;
then the model's distance to both. Nothing is written. The logic is
``mlops/sidecar/model_quality.py``; tests/model/test_quality.py gates on the same figures.

Run: .venv/bin/python mlops/scripts/model_quality.py [--rows 50000] [--seed 777]
"""

from __future__ import annotations

import argparse
import json
import logging
import os

from ml_model.artifacts import ManifestError
from ml_model.common import exit_script, setup_logging
from mlops.sidecar.model_quality import quality

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Print the scores as JSON and the model's distance to Bayes and to HGB; exit 2 on bad input."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50000, help="fresh simulator rows to score")
    parser.add_argument("--seed", type=int, default=777, help="any seed but the training data's (2024)")
    args = parser.parse_args(argv)
    setup_logging()
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    log.info("Scoring the production model on %d fresh rows (seed %d).", args.rows, args.seed)
    try:
        q = quality(args.rows, args.seed)
    except (ValueError, ManifestError) as exc:
        log.error("%s", exc)
        return 2
    print(json.dumps(q, indent=2))
    print(
        f"model - bayes: {q['model_auc'] - q['bayes_auc']:+.4f}   model - hgb: {q['model_auc'] - q['hgb_auc']:+.4f}"
    )
    return 0


if __name__ == "__main__":
    exit_script(main())
