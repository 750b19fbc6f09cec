"""A local DVC remote is created for its owner only; a wider one is reported."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mlops.sidecar.dvc_remote import default_remote_url, private_local_remote

CONFIG = """[core]
    remote = {name}
['remote "mine"']
    url = {url}
['remote "s3"']
    url = s3://bucket/store
"""


def dvc_dir(tmp_path: Path, name: str, url: str, local: str = "") -> Path:
    d = tmp_path / ".dvc"
    d.mkdir(parents=True)
    (d / "config").write_text(CONFIG.format(name=name, url=url))
    if local:
        (d / "config.local").write_text(local)
    return d


def test_a_local_remote_is_made_0700_and_a_cloud_one_left_alone(tmp_path: Path) -> None:
    d = dvc_dir(tmp_path, "mine", "../remote/store")
    folder = private_local_remote(d)
    assert folder == tmp_path / "remote" / "store" and folder.stat().st_mode & 0o777 == 0o700
    assert private_local_remote(dvc_dir(tmp_path / "b", "s3", "x")) is None


def test_config_local_overrides_and_a_wide_folder_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wide = tmp_path / "wide"
    wide.mkdir(mode=0o755)
    wide.chmod(0o755)
    d = dvc_dir(
        tmp_path, "s3", "unused", local=f"['remote \"mine\"']\n    url = {wide}\n[core]\n    remote = mine\n"
    )
    assert default_remote_url(d) == str(wide)
    with caplog.at_level(logging.WARNING):
        assert private_local_remote(d) == wide
    assert "mode 755" in caplog.text and wide.stat().st_mode & 0o777 == 0o755  # reported, not changed
