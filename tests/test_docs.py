"""README and docs/ stay true: every relative link resolves, and every grid command they show
runs as written with --dry-run (nothing trains, nothing is created)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from environment import ROOT

from benchmark.run import main

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
COMMAND = re.compile(r"python -m benchmark\.run (--grid grids/[^`\n]*)")
PLACEHOLDER = re.compile(r"\b(HOST|HEAD)\b")  # a cluster's name, written for the reader to fill


def _links(page: Path) -> list[str]:
    return [m for m in LINK.findall(page.read_text(encoding="utf-8"))
            if not re.match(r"[a-z]+:|#", m)]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    broken = [link for link in _links(page)
              if not (page.parent / link.split("#")[0]).exists()]
    assert broken == []


def test_the_readme_is_short_and_maps_the_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 210
    for doc in sorted((ROOT / "docs").glob("*.md")):
        assert f"docs/{doc.name}" in readme, f"README's map of docs/ lacks {doc.name}"


def _commands() -> list[str]:
    found = {m.strip() for page in PAGES
             for m in COMMAND.findall(page.read_text(encoding="utf-8"))}
    return sorted(c for c in found if not PLACEHOLDER.search(c))


def test_the_docs_show_grid_commands() -> None:
    assert len(_commands()) >= 4


@pytest.mark.parametrize("command", _commands())
def test_grid_commands_in_the_docs_dry_run_as_written(command: str, monkeypatch, capsys) -> None:
    argv = shlex.split(command)
    if "--dry-run" not in argv:
        argv.append("--dry-run")
    if "slurm" in argv and shutil.which("sbatch") is None:
        argv += ["--slurm-cluster", "local"]  # no login node here: submitit's local executor
    monkeypatch.chdir(ROOT)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert " new " in out or " finished " in out, out
