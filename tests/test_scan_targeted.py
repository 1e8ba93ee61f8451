"""Targeted scans: told which paths changed, a scan reads those alone, and walks in full where events cannot tell."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from feedsvc.config import Settings
from feedsvc.index.scan import ScanResult
from tests.corpus import bump_mtime
from tests.scans import DATE, scan, write


@pytest.fixture
def three(content_dir: Path, settings: Settings) -> ScanResult:
    """A full scan of three articles, two of them in a folder."""
    write(content_dir, "a.md")
    write(content_dir, "sub/b.md")
    write(content_dir, "sub/c.md")
    return scan(settings)[0]


def test_targeted_scan_looks_only_at_the_named_paths(content_dir: Path, settings: Settings, three: ScanResult) -> None:
    """A targeted scan re-reads the named file alone: a change to a file no event named goes unnoticed until a walk."""
    for name in ["a.md", "sub/b.md"]:
        write(content_dir, name, title=f"{name}, edited")
        bump_mtime(content_dir / name)

    result, parsed = scan(settings, three.index, {"a.md"})

    assert parsed == ["a.md"]
    assert result.reread == ("a.md",)
    assert result.full is False
    assert result.removed == ()
    assert result.files_seen == 3
    assert result.index.entries["sub/b.md"] is three.index.entries["sub/b.md"]
    assert result.index.entries["sub/c.md"] is three.index.entries["sub/c.md"]
    article = result.index.entries["sub/b.md"].article
    assert article is not None
    assert article.title == "sub/b.md"


def test_targeted_scan_with_no_events_reads_nothing(settings: Settings, three: ScanResult) -> None:
    """An empty event set re-reads nothing and keeps every entry as the same object."""
    result, parsed = scan(settings, three.index, set())

    assert parsed == []
    assert (result.reread, result.removed, result.full, result.files_seen) == ((), (), False, 3)
    assert all(result.index.entries[s] is e for s, e in three.index.entries.items())


def test_targeted_scan_reads_an_added_file(content_dir: Path, settings: Settings, three: ScanResult) -> None:
    """A named new file is read and added; nothing else is read."""
    write(content_dir, "sub/new.md")

    result, parsed = scan(settings, three.index, {"sub/new.md"})

    assert parsed == ["sub/new.md"]
    assert sorted(result.index.entries) == ["a.md", "sub/b.md", "sub/c.md", "sub/new.md"]
    assert result.removed == ()
    assert result.full is False


def test_targeted_scan_rereads_an_edited_file(content_dir: Path, settings: Settings, three: ScanResult) -> None:
    """A named edited file is re-read and its entry replaced; the others stay the same objects."""
    write(content_dir, "sub/b.md", title="B, edited")
    bump_mtime(content_dir / "sub/b.md")

    result, parsed = scan(settings, three.index, {"sub/b.md"})

    assert parsed == ["sub/b.md"]
    article = result.index.entries["sub/b.md"].article
    assert article is not None
    assert article.title == "B, edited"
    assert result.index.entries["a.md"] is three.index.entries["a.md"]
    assert result.index.entries["sub/c.md"] is three.index.entries["sub/c.md"]


def test_targeted_scan_of_an_unchanged_file_keeps_its_entry(settings: Settings, three: ScanResult) -> None:
    """A named file whose stamp did not change (opened and closed, say) is not re-read."""
    result, parsed = scan(settings, three.index, {"a.md"})

    assert parsed == []
    assert result.reread == ()
    assert result.index.entries["a.md"] is three.index.entries["a.md"]


def test_targeted_scan_forgets_a_deleted_file(content_dir: Path, settings: Settings, three: ScanResult) -> None:
    """A named file that is gone leaves the index, is listed in `removed`, and nothing is read."""
    (content_dir / "sub/b.md").unlink()

    result, parsed = scan(settings, three.index, {"sub/b.md"})

    assert parsed == []
    assert sorted(result.index.entries) == ["a.md", "sub/c.md"]
    assert result.removed == ("sub/b.md",)
    assert result.files_seen == 2


def test_targeted_scan_forgets_every_file_of_a_deleted_folder(
    content_dir: Path, settings: Settings, three: ScanResult
) -> None:
    """A named folder that is gone takes every entry under it out of the index, and only those."""
    write(content_dir, "subway.md")  # shares the folder's name as a prefix, but is not inside it
    before = scan(settings, three.index)[0]
    shutil.rmtree(content_dir / "sub")

    result, parsed = scan(settings, before.index, {"sub"})

    assert parsed == []
    assert sorted(result.index.entries) == ["a.md", "subway.md"]
    assert result.removed == ("sub/b.md", "sub/c.md")


def test_targeted_scan_walks_a_created_folder(content_dir: Path, settings: Settings, three: ScanResult) -> None:
    """A named new folder is walked: every article in it, at any depth, is read."""
    write(content_dir, "new/x.md")
    write(content_dir, "new/deeper/y.markdown")
    (content_dir / "new/notes.html").write_text("not an article", encoding="utf-8")

    result, parsed = scan(settings, three.index, {"new"})

    assert sorted(parsed) == ["new/deeper/y.markdown", "new/x.md"]
    assert result.full is False
    assert sorted(result.index.entries) == ["a.md", "new/deeper/y.markdown", "new/x.md", "sub/b.md", "sub/c.md"]


def test_targeted_scan_reads_each_file_once_when_events_name_a_folder_and_its_files(
    content_dir: Path, settings: Settings, three: ScanResult
) -> None:
    """Events naming a new folder and the files inside it (as inotify gives them) read each file once."""
    write(content_dir, "new/x.md")
    write(content_dir, "new/deeper/y.md")

    result, parsed = scan(
        settings, three.index, {"new", "new/deeper", "new/deeper/y.md", "new/x.md", "./new/x.md", "new//x.md"}
    )

    assert sorted(parsed) == ["new/deeper/y.md", "new/x.md"]
    assert sorted(result.reread) == ["new/deeper/y.md", "new/x.md"]


def test_targeted_scan_picks_up_a_folder_moved_in(
    tmp_path: Path, content_dir: Path, settings: Settings, three: ScanResult
) -> None:
    """A folder moved in from outside is walked when named, under its new path."""
    outside = tmp_path / "drafts"
    write(outside, "ready.md")
    os.rename(outside, content_dir / "moved")

    result, parsed = scan(settings, three.index, {"moved"})

    assert parsed == ["moved/ready.md"]
    assert "moved/ready.md" in result.index.entries


def test_targeted_scan_handles_a_folder_moved_within(content_dir: Path, settings: Settings, three: ScanResult) -> None:
    """A folder renamed inside the content directory: its old entries are removed, its new paths read."""
    os.rename(content_dir / "sub", content_dir / "renamed")

    result, parsed = scan(settings, three.index, {"sub", "renamed"})

    assert sorted(parsed) == ["renamed/b.md", "renamed/c.md"]
    assert sorted(result.index.entries) == ["a.md", "renamed/b.md", "renamed/c.md"]
    assert result.removed == ("sub/b.md", "sub/c.md")


@pytest.mark.parametrize("name", [".hidden/a.md", ".a.md", "sub/.cache/b.md", "../outside.md", "notes.html", "a.md~"])
def test_targeted_scan_ignores_paths_that_are_not_articles(
    tmp_path: Path, content_dir: Path, settings: Settings, three: ScanResult, name: str
) -> None:
    """A named path inside a hidden folder, hidden, outside the directory, or not Markdown is never read."""
    target = content_dir / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"---\ntitle: x\ndate: {DATE}\n---\nbody\n", encoding="utf-8")

    result, parsed = scan(settings, three.index, {name})

    assert parsed == []
    assert sorted(result.index.entries) == ["a.md", "sub/b.md", "sub/c.md"]
    assert result.removed == ()


def test_targeted_scan_ignores_a_hidden_folder_named_with_its_files(
    content_dir: Path, settings: Settings, three: ScanResult
) -> None:
    """A new hidden folder named together with its files is not walked."""
    write(content_dir, ".git/x.md")

    result, parsed = scan(settings, three.index, {".git", ".git/x.md"})

    assert parsed == []
    assert ".git/x.md" not in result.index.entries


def test_named_symlink_falls_back_to_a_full_walk(content_dir: Path, settings: Settings, three: ScanResult) -> None:
    """A named path that is now a symbolic link makes the scan walk everything, so links are handled in one place."""
    (content_dir / "link.md").symlink_to(content_dir / "a.md")
    write(content_dir, "sub/c.md", title="C, edited")
    bump_mtime(content_dir / "sub/c.md")

    result, parsed = scan(settings, three.index, {"link.md"})

    assert result.full is True
    assert sorted(parsed) == ["link.md", "sub/c.md"]
    assert result.index.has_links is True
    assert "link.md" in result.index.entries


def test_named_folder_holding_a_symlink_falls_back_to_a_full_walk(
    content_dir: Path, settings: Settings, three: ScanResult
) -> None:
    """A named new folder that holds a symbolic link makes the scan walk everything."""
    write(content_dir, "new/x.md")
    (content_dir / "new/link.md").symlink_to(content_dir / "a.md")

    result, _ = scan(settings, three.index, {"new"})

    assert result.full is True
    assert sorted(result.index.entries) == ["a.md", "new/link.md", "new/x.md", "sub/b.md", "sub/c.md"]


def test_index_with_links_is_always_walked_in_full(content_dir: Path, settings: Settings) -> None:
    """Once a walk met a link, every scan walks in full: events name a link's target, not the link."""
    write(content_dir, "real/a.md")
    (content_dir / "alias").symlink_to(content_dir / "real")
    first, _ = scan(settings)
    write(content_dir, "real/a.md", title="A, edited")
    bump_mtime(content_dir / "real/a.md")

    second, parsed = scan(settings, first.index, set())

    assert first.index.has_links is True
    assert second.full is True
    assert sorted(parsed) == ["alias/a.md", "real/a.md"]


def test_targeted_scan_keeps_has_links_false(content_dir: Path, settings: Settings, three: ScanResult) -> None:
    """A targeted scan that met no link leaves the index without links, so scans stay targeted."""
    write(content_dir, "new.md")

    result, _ = scan(settings, three.index, {"new.md"})

    assert result.full is False
    assert result.index.has_links is False


def test_targeted_scan_of_a_missing_content_directory_keeps_the_index(
    content_dir: Path, settings: Settings, three: ScanResult
) -> None:
    """When the directory itself is gone, a targeted scan reports the error and returns the previous index."""
    shutil.rmtree(content_dir)

    result, parsed = scan(settings, three.index, {"a.md"})

    assert parsed == []
    assert result.error is not None
    assert result.index is three.index
