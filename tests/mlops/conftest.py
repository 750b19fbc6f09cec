"""Fixtures for end-to-end runs of the sidecar: a temporary copy of the repository with a small
dataset (tests.support.repo), so the real work tree is never written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.repo import Repo, make_repo


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """Each test's own copy: one test's failure leaves nothing behind for the next."""
    return make_repo(tmp_path / "repo")
