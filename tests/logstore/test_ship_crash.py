"""Kill -9 the shipper just before each rename it makes (the rotation's, each part's, each marker's,
the host record's), then run it again: the store then holds every logged row exactly once, in
storage and not only in reading, and every rotated file has its marker.

The runs go through the fork server (tests/support/forkserver.py): the real ``scripts/ship_logs.py``,
in a child forked from a process that has already imported pyarrow and pandas, killed by the
rename hook. Each kill point starts from the same log, copied afresh; the store starts empty.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from logstore.ledger import Ledger
from ml_model.paths import REPO_ROOT
from ml_model.prediction_log_reader import log_files
from tests.logstore.logs import expected, rotate_now, stored_keys, write
from tests.support import forkserver
from tests.support.forkserver import ForkServer, Result

SCRIPT = str(REPO_ROOT / "scripts" / "ship_logs.py")
LIGHT = ("numpy", "pandas", "pyarrow", "pyarrow.parquet", "pyarrow.fs", "orjson")  # no TensorFlow here


def pristine(folder: Path) -> Path:
    """Three rotated files (three days, one across midnight) and a live file from yesterday."""
    path = folder / "predictions.jsonl"
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    log = write(path, today - timedelta(days=4, hours=2), 40, timedelta(minutes=6), keep=10)
    for start, first in ((today - timedelta(days=2), 100), (today - timedelta(days=1, hours=-3), 200)):
        rotate_now(log)
        write(path, start, 30, timedelta(minutes=5), first_id=first, keep=10).close()
    rotate_now(log)
    write(path, today - timedelta(hours=2), 20, timedelta(minutes=1), first_id=300, keep=10).close()
    log.close()
    return path


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ForkServer, Path, Path]]:
    """The fork server in the shipper's environment (keep 1: rotation deletes what is shipped)."""
    source = pristine(tmp_path / "source")
    logs = tmp_path / "host" / "logs"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PREDICTION_LOG": str(logs / "predictions.jsonl"),
        "PREDICTION_LOG_KEEP": "1",
        "LOG_HOST": "web-1",
    }
    monkeypatch.setattr(forkserver, "HEAVY", LIGHT)
    server = ForkServer(env, REPO_ROOT, tmp_path / "runs")
    yield server, source, logs
    server.close()


def fresh(source: Path, logs: Path) -> None:
    """The host as it was before any shipment: the same log, no ledger, no store."""
    shutil.rmtree(logs.parent, ignore_errors=True)
    logs.parent.mkdir(mode=0o700)
    shutil.copytree(source.parent, logs)


def ok(result: Result, after: str) -> None:
    assert result.returncode == 0, f"after {after}:\n{result.log[-2500:]}"


def test_a_kill_before_any_rename_loses_and_doubles_nothing(
    host: tuple[ForkServer, Path, Path], tmp_path: Path
) -> None:
    server, source, logs = host
    want = expected(source)
    want_keys = Counter(zip(want["prediction_id"], want["position"].tolist(), strict=True))
    fresh(source, logs)
    listing = tmp_path / "renames.txt"
    ok(server.run(SCRIPT, count_file=listing), "a clean run")
    renames = listing.read_text().splitlines()
    total = len(renames)
    assert Counter(stored_keys(logs / "store")) == want_keys
    kinds = {"rotation": ".jsonl", "part": ".parquet", "marker": ".shipped/", "host": "hosts/"}
    for kind, mark in kinds.items():
        assert any(mark in line.split(" -> ")[1] for line in renames), f"no {kind} rename: {renames}"
    for k in range(1, total + 1):
        fresh(source, logs)
        killed = server.run(SCRIPT, kill_at=k)
        assert killed.returncode == -9, f"rename {k} of {total} did not kill the shipper: {killed.log[-800:]}"
        ok(server.run(SCRIPT), f"a kill at rename {k} of {total} ({renames[k - 1]})")
        got = Counter(stored_keys(logs / "store"))
        assert got == want_keys, f"a kill at rename {k} of {total} ({renames[k - 1]})"
        path = logs / "predictions.jsonl"
        ledger = Ledger(path)
        left = [f for f in log_files(path) if f != path]
        assert all(ledger.shipped(f.stat()) for f in left), f"a kill at rename {k}: unmarked {left}"
        assert not list((logs / "store").rglob(".*.tmp")), f"a kill at rename {k}: a temporary left"
    print(f"shipper: {total} kills survived")
