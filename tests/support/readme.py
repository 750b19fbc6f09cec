"""The README's command blocks, read as a person reads them, so tests run what is written."""

from __future__ import annotations

import re
import subprocess

from ml_model.paths import REPO_ROOT
from tests.support.repo import Repo


def bash_block(section: str, after: str) -> list[str]:
    """The command lines of the first bash block after the text ``after`` in the README's section
    headed ``section`` (comments after `#` stripped)."""
    text = (REPO_ROOT / "README.md").read_text()
    part = text[text.index(section) :]
    part = part[part.index(after) :]
    block = re.search(r"```bash\n(.*?)```", part, re.S)
    assert block, f"README.md has no bash block after {after!r}"
    lines = [re.sub(r"\s+#\s.*$", "", line).strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def bash(
    repo: Repo, line: str, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess:
    """One line as typed, in bash with the copy's venv activated (``.venv`` links to ours)."""
    if not (repo.root / ".venv").exists():
        (repo.root / ".venv").symlink_to(REPO_ROOT / ".venv")
    return subprocess.run(
        ["bash", "-c", f"source .venv/bin/activate && {line}"],
        cwd=repo.root, env=env or repo.env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
