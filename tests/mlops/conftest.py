"""Fixtures for end-to-end runs of the sidecar: a temporary copy of the repository with a small
dataset (tests.support.repo), so the real work tree is never written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.repo import Repo, make_repo


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path / "repo")


@pytest.fixture(scope="module")
def shared_repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """One copy for tests that only read, or whose writes the others tolerate."""
    return make_repo(tmp_path_factory.mktemp("shared") / "repo")
