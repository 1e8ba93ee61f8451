"""README is documentation users rely on: its Quick start and reference tables must match the code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from feedsvc.cli import main
from feedsvc.config import CATEGORY_KEYS, SETTINGS, reference
from feedsvc.config.settings import ENTITY_SETTINGS
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_quick_start_has_exactly_two_commands() -> None:
    """The Quick start code block holds two commands: one runs the service, one runs the tests."""
    section = re.search(r"^## Quick start\n(.*?)(?=^## )", README, re.M | re.S)
    assert section is not None
    block = re.search(r"^```[^\n]*\n(.*?)^```", section.group(1), re.M | re.S)
    assert block is not None
    commands = [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]
    assert commands == ["make run", "make test"]


def test_every_setting_is_documented() -> None:
    """Each configuration key, and each per-category key, appears in the README's configuration table."""
    for setting in SETTINGS:
        assert f"| `{setting.key}` |" in README, setting.key
    for key in CATEGORY_KEYS:
        assert f"| `categories.<name>.{key}` |" in README, key


def test_the_configuration_table_is_written_from_the_declarations() -> None:
    """README's configuration table is the one the settings' declarations give, row for row."""
    fix = "run: .venv/bin/python -m feedsvc.config.reference README.md"
    assert reference.table_in(README).splitlines() == reference.markdown_table().splitlines(), fix


@pytest.mark.slow
def test_the_reference_command_rewrites_a_stale_table_and_nothing_else(tmp_path: Path) -> None:
    """`python -m feedsvc.config.reference FILE` replaces the table in FILE and keeps the text around it."""
    stale = README.replace("| `feeds.limit` | `20` |", "| `feeds.limit` | `25` |", 1)
    assert stale != README
    path = tmp_path / "README.md"
    path.write_text(stale, encoding="utf-8")
    subprocess.run([sys.executable, "-W", "error", "-m", "feedsvc.config.reference", str(path)], check=True, cwd=ROOT)
    assert path.read_text(encoding="utf-8") == README


def test_the_reference_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a file, the command prints the table, the header first and a row per key."""
    assert reference.main([]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[:2] == ["| key | default | meaning |", "| --- | --- | --- |"]
    assert len(printed) == 2 + len(SETTINGS) + len(CATEGORY_KEYS) + 1 + len(ENTITY_SETTINGS)  # one row: tags, authors


def test_every_command_is_documented() -> None:
    """Each CLI command appears in the README's command line section."""
    for name in main.commands:
        assert f"feedsvc {name}" in README, name


def test_every_module_is_in_the_layout_paragraphs() -> None:
    """The README describes every folder of the package in a paragraph that names each of its modules."""
    package = ROOT / "feedsvc"
    folders = sorted(path for path in package.iterdir() if (path / "__init__.py").exists())
    assert len(folders) >= 6, folders
    for folder in folders:
        paragraph = re.search(rf"^- \*\*`{folder.name}/`\*\*(.*?)(?=^- |^\n)", README, re.M | re.S)
        assert paragraph is not None, folder.name
        for module in sorted(folder.glob("*.py")):
            if module.name != "__init__.py":
                assert f"`{module.name}`" in paragraph.group(1), f"{folder.name}/{module.name}"
    top = re.search(r"^- \*\*`feedsvc/`\*\*(.*?)(?=^- )", README, re.M | re.S)
    assert top is not None
    for module in sorted(package.glob("*.py")):
        if module.name not in ("__init__.py", "__main__.py"):
            assert f"`{module.name}`" in top.group(1), module.name
