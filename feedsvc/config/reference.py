"""The README's configuration reference, written from the declarations in `settings`.

`python -m feedsvc.config.reference` prints the table; `… reference README.md` rewrites it there.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from feedsvc.config.settings import CATEGORY_SETTINGS, ENTITY_SETTINGS, SETTINGS, Setting

HEADER = ("| key | default | meaning |", "| --- | --- | --- |")


def flow_yaml(value: object) -> str:
    """Write a default as YAML's flow style would: `true`, `[.md, .txt]`, `{hidden: true}`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow_yaml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {flow_yaml(item)}" for key, item in value.items()) + "}"
    return str(value)


def shown_default(setting: Setting) -> str:
    """Write a setting's default as the table shows it: its own words, `(none)` for empty text, else code."""
    if setting.shown_default:
        return setting.shown_default
    if setting.default == "":
        return "(none)"
    return f"`{flow_yaml(setting.default)}`"


def markdown_table() -> str:
    """Return the table of every key, the categories' and entity kinds' last, one row each.

    Tags and authors are configured as categories are: one row says so.
    """
    rows = [
        f"| `{setting.key}` | {shown_default(setting)} | {setting.help} |"
        for setting in (*SETTINGS, *CATEGORY_SETTINGS)
    ]
    rows.append(
        "| `tags.<name>.…`, `authors.<name>.…` | as categories | The same keys as a category's, for a tag's or an "
        "author's feed (`/feeds/tags/{slug}.rss`, `/feeds/authors/{slug}.rss`) |"
    )
    rows += [f"| `{setting.key}` | {shown_default(setting)} | {setting.help} |" for setting in ENTITY_SETTINGS]
    return "\n".join([*HEADER, *rows]) + "\n"


def _table_lines(lines: list[str]) -> tuple[int, int]:
    """Find the table among a document's lines: the index of its header and the index after its last row.

    Raises:
        ValueError: the document has no configuration table.
    """
    for start, line in enumerate(lines):
        if line.rstrip("\n") == HEADER[0]:
            end = start + 1
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
            return start, end
    raise ValueError(f"no configuration table (expected a line {HEADER[0]!r})")


def table_in(document: str) -> str:
    """Return the configuration table a Markdown document holds.

    Raises:
        ValueError: the document has no configuration table.
    """
    lines = document.splitlines(keepends=True)
    start, end = _table_lines(lines)
    return "".join(lines[start:end])


def replace_table(document: str) -> str:
    """Return a Markdown document with its configuration table replaced by `markdown_table()`.

    Raises:
        ValueError: the document has no configuration table.
    """
    lines = document.splitlines(keepends=True)
    start, end = _table_lines(lines)
    return "".join([*lines[:start], markdown_table(), *lines[end:]])


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table, or rewrite it in the Markdown files named."""
    parser = argparse.ArgumentParser(prog="python -m feedsvc.config.reference", description=main.__doc__)
    parser.add_argument("files", nargs="*", type=Path, help="Markdown files whose table to rewrite (README.md)")
    files: list[Path] = parser.parse_args(argv).files
    if not files:
        sys.stdout.write(markdown_table())
    for path in files:
        path.write_text(replace_table(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
