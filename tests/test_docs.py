"""Docs a newcomer can find: the README has contents and one section per user, every relative link
in the README and docs/ resolves inside the repository, and nothing points outside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ml_model.paths import REPO_ROOT

DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_readme_is_a_how_to_with_contents_and_a_section_per_user() -> None:
    text = (REPO_ROOT / "README.md").read_text()
    heads = re.findall(r"^## (.+)$", text, re.M)
    assert heads[0] == "Contents" and heads[1] == "Set-up: two commands", heads
    for user in ("ML engineer", "on-call person", "backend developer", "caseworker", "client"):
        assert any(user in h for h in heads), (user, heads)
    assert len(text.splitlines()) < 320  # internals live in docs/


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_link_resolves_inside_the_repository(doc: Path) -> None:
    text = doc.read_text()
    assert "../shared" not in text  # a clone does not have it
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path = (doc.parent / target).resolve()
        assert path.exists() and REPO_ROOT in path.parents, f"{doc.name} links {target}"


def test_make_shows_progress_while_it_installs() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    pip = [line for line in makefile.splitlines() if "pip install" in line and "requirements-dev.txt" in line]
    npm = [line for line in makefile.splitlines() if "npm ci --" in line and "backend" in line]
    assert pip and "--quiet" not in pip[0]  # pip names each package as it goes
    assert npm and "--loglevel=http" in npm[0]  # npm names each fetch
