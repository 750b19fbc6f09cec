"""The model in service, and how a promoted one replaces it without a restart."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ml_model.artifacts import LoadedModel, load_model
from ml_model.paths import MANIFEST_FILE

log = logging.getLogger(__name__)


class ModelHolder:
    """The model in service. ``reload`` swaps in a new verified set or keeps the old one.

    ``current`` also notices a promotion by itself: at most once a second it compares the
    manifest's mtime (one ``stat``), and reloads when it changed. Promotion replaces the manifest
    last, so a changed manifest means a complete set. This is what makes gunicorn safe: its HUP
    boots fresh workers, and a worker that cannot verify the set fails to boot, which stops
    gunicorn; a worker that reloads in place keeps its old model instead.
    """

    CHECK_EVERY_S = 1.0

    def __init__(self, model_dir: Path, model: LoadedModel | None = None) -> None:
        """Load and verify the set in ``model_dir``, or serve ``model`` as given (tests hand one in)."""
        self.model_dir = model_dir
        self._manifest = model_dir / MANIFEST_FILE
        self._mtime = self._manifest_mtime()
        self.model: LoadedModel = model if model is not None else load_model(model_dir)
        self._checked = time.monotonic()

    def _manifest_mtime(self) -> int | None:
        try:
            return self._manifest.stat().st_mtime_ns
        except OSError:
            return None

    def current(self) -> LoadedModel:
        """The model to score with; reloads first if a promotion replaced the manifest."""
        now = time.monotonic()
        if now - self._checked >= self.CHECK_EVERY_S:
            self._checked = now
            mtime = self._manifest_mtime()
            if mtime != self._mtime:
                self._mtime = mtime  # one attempt per change of the manifest
                log.info("The manifest in %s changed; reloading.", self.model_dir)
                self.reload()
        return self.model

    def reload(self) -> bool:
        """Swap in the set now in ``model_dir`` if it verifies; otherwise keep serving the old one."""
        try:
            new = load_model(self.model_dir)
        except Exception as exc:  # whatever is wrong with the new set, keep serving the old one
            log.error("Reload failed, still serving model %s: %s", self.model.version, exc)
            return False
        old, self.model = self.model.version, new
        log.info("Reloaded: now serving model %s (was %s).", new.version, old)
        return True
