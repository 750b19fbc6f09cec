"""Removing lines from a log that real writers append to and rotate: nothing lost, nothing doubled."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from clientdata.files import names_match, older_than
from clientdata.lines import Busy, exclusive, rewrite
from ml_model.prediction_log_reader import lock_path, log_files

WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from pathlib import Path
    from ml_model.prediction_log import LogEntry, PredictionLog
    from ml_model.schema import FEATURES
    log = PredictionLog(Path(sys.argv[1]), max_bytes=int(sys.argv[3]), keep=50)
    cols = {name: np.array([1.0]) for name in FEATURES}
    for i in range(int(sys.argv[2])):
        log.write(LogEntry("v1", time.time(), cols, [0.5], f"{i:032x}"))
    """
)


def ids_in(path: Path) -> list[str]:
    """Every prediction_id in the log's window, oldest first."""
    return [
        json.loads(line)["prediction_id"] for f in log_files(path) for line in f.read_bytes().splitlines()
    ]


def test_erasing_while_a_writer_appends_and_rotates_loses_and_doubles_nothing(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "predictions.jsonl"
    n = 800
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(log), str(n), "40000"])
    erased: set[str] = set()
    try:
        i = 0
        while (writer.poll() is None and i < 25) or i < 3:  # passes while it writes and rotates
            target = f"{i * 7:032x}"
            for f in [f for f in log_files(log) if f.exists()]:
                with contextlib.suppress(FileNotFoundError):  # rotated past the last kept file
                    rewrite(f, names_match(target), lock_path(log))
            erased.add(target)
            i += 1
    finally:
        writer.wait(timeout=120)
    assert writer.returncode == 0
    for target in erased:  # lines written after their pass are erased by a last one
        for f in log_files(log):
            rewrite(f, names_match(target), lock_path(log))
    seen = ids_in(log)
    assert len(seen) == len(set(seen))  # nothing doubled
    assert set(seen) == {f"{k:032x}" for k in range(n)} - erased  # nothing else lost
    assert len(log_files(log)) > 3  # the writer did rotate meanwhile


def test_a_file_whose_lines_all_go_is_deleted_and_modes_stay_private(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"time":"2020-01-01T00:00:00.000+00:00","prediction_id":"a"}\n')
    os.chmod(path, 0o600)
    from datetime import UTC, datetime

    result = rewrite(path, older_than(datetime(2021, 1, 1, tzinfo=UTC)), None)
    assert result.removed == 1 and result.deleted and not path.exists()
    path.write_bytes(b'{"time":"2020-01-01T00:00:00.000+00:00"}\n{"time":"2022-01-01T00:00:00.000+00:00"}\n')
    result = rewrite(path, older_than(datetime(2021, 1, 1, tzinfo=UTC)), None)
    assert (result.removed, result.kept) == (1, 1) and b"2022" in path.read_bytes()
    assert path.stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".*tmp"))


def test_undated_and_damaged_lines_are_kept_not_guessed(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    drop = older_than(datetime(2021, 1, 1, tzinfo=UTC))
    assert not drop(b'{"time": null}\n') and not drop(b"not json\n") and not drop(b'{"time":"soon"}\n')
    assert drop(b'{"model_version":"v","time":"2020-05-01T00:00:00"}\n')  # no zone: UTC


def test_a_reader_holding_the_lock_makes_the_rewrite_wait_then_give_up(tmp_path: Path) -> None:
    lock = tmp_path / "p.jsonl.lock"
    path = tmp_path / "p.jsonl"
    path.write_bytes(b'{"prediction_id":"' + b"a" * 32 + b'"}\n{"prediction_id":"b"}\n')
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import fcntl,os,time; fd=os.open({str(lock)!r}, os.O_RDONLY|os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_SH); print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(Busy), exclusive(lock, timeout=0.3):
            pass
        import clientdata.lines as lines

        old = lines.LOCK_TIMEOUT_S
        lines.LOCK_TIMEOUT_S = 0.3
        try:
            with pytest.raises(Busy):
                rewrite(path, names_match("a" * 32), lock)
        finally:
            lines.LOCK_TIMEOUT_S = old
        assert path.read_bytes().count(b"\n") == 2  # nothing changed
    finally:
        holder.kill()
        holder.wait()
    assert rewrite(path, names_match("a" * 32), lock).removed == 1
