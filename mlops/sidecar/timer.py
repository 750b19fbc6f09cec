"""Where a run's time goes, in one log line: the stages report it so a slow step is visible."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator


class Timer:
    """``with timer("training"):`` blocks, summarised by ``summary()``."""

    def __init__(self) -> None:
        self.spans: dict[str, float] = {}
        self.t0 = time.perf_counter()
        self.started = time.time()  # wall clock, for the MLflow run's start

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.spans[name] = self.spans.get(name, 0.0) + time.perf_counter() - start

    def summary(self) -> str:
        """One log line: the total and each named span."""
        total = time.perf_counter() - self.t0
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in self.spans.items())
        return f"{total:.1f} s in all ({parts})"
