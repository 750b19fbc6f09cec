"""CBPE (mlops/sidecar/cbpe.py) against the simulator's truth, and what it costs.

Production (read-only) is calibrated on its held-out reference rows as the monitor does it. For each
drift profile and ``--seeds`` seeds, a simulated day of ``--rows`` pairs: the estimate from the scores
alone, its band, the realized ROC AUC from the simulator's labels, the error (estimate - realized),
whether the band covers the realized AUC (also for a band from the labels' noise alone, without the
calibrator's bootstrap: why ``boots`` exists), and the calibration error. The ECE is given on the
whole day and as the share of 1,000-label slices above ``max_ece`` (the reliability rule's false
alarms under covariate shift, its detections under concept drift).

Timing: ``estimate_auc`` at 50,000 rows with 200 draws against the baseline, scikit-learn's
``roc_auc_score`` on the same rows (one realized AUC), medians of alternating repeats in one run;
and the cost of rebuilding the calibrator each run.

Run: nice .venv/bin/python bench/cbpe_bench.py [--seeds 10] [--rows 5000] [--repeats 7]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # 2 shared cores: threaded BLAS makes timings swing
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import statistics
import sys
import time
from collections.abc import Callable

from sklearn.metrics import roc_auc_score

from ml_model.frame_validation import read_dataset
from ml_model.metrics import expected_calibration_error
from ml_model.paths import PRODUCTION_DATA
from ml_model.schema import LABEL
from mlops.sidecar.cbpe import Calibrator, estimate_auc, fit_calibrator
from mlops.sidecar.config import Params
from mlops.sidecar.scoring import load_production, score, split_rows
from mlops.sidecar.simulator import DRIFT_PROFILES, simulate


def one_day(model, cal: Calibrator, params: Params, drift: str, seed: int, rows: int) -> dict:
    """One simulated day: estimate, band, realized AUC, coverage with and without the calibrator's spread."""
    cfg = params.estimate
    frame = simulate(rows, seed, drift=drift)
    s, y = score(model, frame).to_numpy(), frame[LABEL].to_numpy()
    p = cal.apply(s)
    est = estimate_auc(p, cfg.draws, cfg.seed, scores=s, boot_probs=cal.apply_boot(s))
    labels_only = estimate_auc(p, cfg.draws, cfg.seed, scores=s)
    realized = float(roc_auc_score(y, s))
    k = cfg.min_labels
    slices = [expected_calibration_error(y[i : i + k], p[i : i + k]) for i in range(0, rows - k + 1, k)]
    return {
        "est": est,
        "realized": realized,
        "error": est.value - realized,
        "inside": est.covers(realized),
        "inside_labels_only": labels_only.covers(realized),
        "ece": expected_calibration_error(y, p),
        "slices_over": sum(e > cfg.max_ece for e in slices),
        "slices": len(slices),
    }


def profile_table(model, cal: Calibrator, params: Params, seeds: int, rows: int) -> None:
    """Per seed, then the summary table for BENCHMARKS.md."""
    summary = []
    print(f"{'profile':<11}{'seed':>5}{'estimate':>10}{'band':>18}{'realized':>10}{'error':>9}  in  ece")
    for drift in DRIFT_PROFILES:
        days = [one_day(model, cal, params, drift, 1000 + i, rows) for i in range(seeds)]
        for i, d in enumerate(days):
            e = d["est"]
            print(
                f"{drift:<11}{1000 + i:>5}{e.value:>10.4f}   [{e.low:.4f}, {e.high:.4f}]{d['realized']:>10.4f}"
                f"{d['error']:>+9.4f}  {'yes' if d['inside'] else 'NO ':3} {d['ece']:.3f}"
            )
        summary.append((drift, days))
    k, max_ece = params.estimate.min_labels, params.estimate.max_ece
    print(
        f"\n| profile | estimate | ± half band | realized | error (mean) | max abs error | inside band "
        f"| inside, labels-only band | ECE ({rows} rows) | {k}-label slices with ECE > {max_ece:g} |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for drift, days in summary:
        mean = _means(days)
        half = statistics.fmean((d["est"].high - d["est"].low) / 2 for d in days)
        over, slices = sum(d["slices_over"] for d in days), sum(d["slices"] for d in days)
        print(
            f"| {drift} | {statistics.fmean(d['est'].value for d in days):.4f} | {half:.4f} "
            f"| {mean('realized'):.4f} | {mean('error'):+.4f} | {max(abs(d['error']) for d in days):.4f} "
            f"| {sum(d['inside'] for d in days)}/{len(days)} | {sum(d['inside_labels_only'] for d in days)}/{len(days)} "
            f"| {mean('ece'):.4f} | {over}/{slices} |"
        )


def _means(days: list[dict]) -> Callable[[str], float]:
    return lambda key: statistics.fmean(d[key] for d in days)


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` in ms, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def timings(model, held_out, params: Params, repeats: int) -> None:
    """estimate_auc at 50,000 rows against roc_auc_score on the same rows; the calibrator's rebuild."""
    cfg = params.estimate
    frame = simulate(50_000, 7)
    s, y = score(model, frame).to_numpy(), frame[LABEL].to_numpy()
    ref_s, ref_y = score(model, held_out).to_numpy(), held_out[LABEL].to_numpy()
    cal = fit_calibrator(ref_s, ref_y, boots=cfg.boots, seed=cfg.seed)
    p = cal.apply(s)
    base = median_ms(lambda: roc_auc_score(y, s), repeats)
    rows = [
        ("roc_auc_score, 50,000 rows (baseline)", base),
        (
            f"estimate_auc, 50,000 rows, {cfg.draws} draws, labels only",
            median_ms(lambda: estimate_auc(p, cfg.draws, 1, scores=s), repeats),
        ),
        (
            f"Calibrator.apply_boot, 50,000 rows, {cfg.boots} boots",
            median_ms(lambda: cal.apply_boot(s), repeats),
        ),
        (
            f"apply_boot + estimate_auc with them, 50,000 rows, {cfg.draws} draws (the monitor's call)",
            median_ms(lambda: estimate_auc(p, cfg.draws, 1, scores=s, boot_probs=cal.apply_boot(s)), repeats),
        ),
        (
            f"fit_calibrator, {len(ref_s)} reference rows, {cfg.boots} boots",
            median_ms(lambda: fit_calibrator(ref_s, ref_y, boots=cfg.boots, seed=cfg.seed), repeats),
        ),
        (
            "rebuild per run: read reference, split, score, fit_calibrator",
            median_ms(lambda: rebuild(model, params), repeats),
        ),
    ]
    print(f"\n| what (median of {repeats}) | ms | ratio to roc_auc_score |\n|---|---|---|")
    for name, ms in rows:
        print(f"| {name} | {ms:.1f} | {ms / base:.1f} |")


def rebuild(model, params: Params) -> Calibrator:
    """What the monitor pays each run for the calibrator, from the training snapshot on disk."""
    _, held_out = split_rows(read_dataset(PRODUCTION_DATA), params.split, PRODUCTION_DATA)
    return fit_calibrator(
        score(model, held_out), held_out[LABEL], boots=params.estimate.boots, seed=params.estimate.seed
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="CBPE against the simulator's truth, and its cost.")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    params = Params.load()
    model = load_production()
    _, held_out = split_rows(read_dataset(PRODUCTION_DATA), params.split, PRODUCTION_DATA)
    cfg = params.estimate
    cal = fit_calibrator(score(model, held_out), held_out[LABEL], boots=cfg.boots, seed=cfg.seed)
    print(
        f"production {model.version}, calibrated on {cal.rows} held-out reference rows; draws {cfg.draws}, "
        f"boots {cfg.boots}, band = estimate ± 2 s.d.; days of {args.rows} rows, seeds 1000-{999 + args.seeds}\n"
    )
    profile_table(model, cal, params, args.seeds, args.rows)
    timings(model, held_out, params, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
