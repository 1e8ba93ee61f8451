"""The incremental scan: which files it re-reads, which it ignores, which bodies it keeps, what it keeps on failure."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import feedsvc.index.scan
from feedsvc.config import Settings
from feedsvc.index.scan import is_article_name
from feedsvc.parse.articles import read_body
from tests.conftest import make_settings
from tests.corpus import article_text, bump_mtime, write_article
from tests.scans import DATE, scan, write


def test_first_scan_reads_every_article(content_dir: Path, settings: Settings) -> None:
    """The first scan reads and parses every article file, wherever it is."""
    for name in ["a.md", "posts/2022/b.md", "posts/c.markdown"]:
        write(content_dir, name)

    result, parsed = scan(settings)

    assert sorted(parsed) == ["a.md", "posts/2022/b.md", "posts/c.markdown"]
    assert sorted(result.reread) == sorted(parsed)
    assert result.files_seen == 3
    assert result.failed == 0
    assert result.error is None
    assert [a.source for a in result.index.articles()] == ["a.md", "posts/2022/b.md", "posts/c.markdown"]


def test_unchanged_rescan_rereads_nothing(content_dir: Path, settings: Settings) -> None:
    """A rescan with nothing changed parses no file and returns the very same entries."""
    for number in range(5):
        write(content_dir, f"posts/{number}.md")
    first, _ = scan(settings)

    second, parsed = scan(settings, first.index)

    assert parsed == []
    assert second.reread == ()
    assert second.files_seen == 5
    assert second.index.entries == first.index.entries
    assert all(second.index.entries[s] is first.index.entries[s] for s in first.index.entries)


def test_a_first_scan_stamps_files_as_it_reads_them(content_dir: Path, settings: Settings) -> None:
    """A cold walk stats no article file; each entry gets the stamp of the file it read, so a rescan reads none.

    A folder, a link and an over-large file are told apart as before.
    """
    for name in ["a.md", "posts/2022/b.md", "posts/c.markdown"]:
        write(content_dir, name)
    (content_dir / "folder.md").mkdir()  # a folder named like an article: walked, not read
    write(content_dir, "folder.md/d.md")
    (content_dir / "link.md").symlink_to(content_dir / "a.md")
    with (content_dir / "huge.md").open("wb") as handle:
        handle.truncate(settings.max_file_bytes + 1)
    walked = list(feedsvc.index.scan._walk(str(content_dir), feedsvc.index.scan._Walk(), stamped=False))

    first, parsed = scan(settings)
    second, again = scan(settings, first.index)

    unstamped = {found.source for found in walked if found.size == -1}
    assert unstamped == {"a.md", "posts/2022/b.md", "posts/c.markdown", "folder.md/d.md", "huge.md"}
    assert sorted(parsed) == ["a.md", "folder.md/d.md", "link.md", "posts/2022/b.md", "posts/c.markdown"]
    for source, entry in first.index.entries.items():
        assert entry.stamp == feedsvc.index.scan.stamp_of(os.stat(content_dir / source)), source
    problem = first.index.entries["huge.md"].problem
    assert problem is not None
    assert f"is {settings.max_file_bytes + 1:,} bytes" in problem.reason
    assert again == []
    assert second.reread == ()


def test_a_file_a_first_scan_cannot_open_is_not_read_again_until_it_changes(
    content_dir: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that cannot be opened is a problem, stamped as it stands: a rescan tries it again only once it changed."""
    write(content_dir, "a.md")
    locked = write(content_dir, "locked.md")
    real_open = os.open

    def refusing(path: str, *args: object, **kwargs: object) -> int:
        if str(path).endswith("locked.md"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(feedsvc.index.scan.os, "open", refusing)
    first, _ = scan(settings)
    second, again = scan(settings, first.index)
    bump_mtime(locked)
    third, _ = scan(settings, second.index)

    problem = first.index.entries["locked.md"].problem
    assert problem is not None
    assert "cannot be read: Permission denied" in problem.reason
    assert again == []
    assert second.reread == ()
    assert third.reread == ("locked.md",)
    assert third.failed == 1


def test_edited_file_is_the_only_one_reread(content_dir: Path, settings: Settings) -> None:
    """A file whose content and mtime changed is re-read, and it alone."""
    for name in ["a.md", "b.md", "c.md"]:
        write(content_dir, name)
    first, _ = scan(settings)
    path = write(content_dir, "b.md", title="B, edited")
    bump_mtime(path)

    second, parsed = scan(settings, first.index)

    assert parsed == ["b.md"]
    assert second.reread == ("b.md",)
    article = second.index.entries["b.md"].article
    assert article is not None
    assert article.title == "B, edited"
    assert second.index.entries["a.md"] is first.index.entries["a.md"]
    assert second.index.entries["c.md"] is first.index.entries["c.md"]


def test_deleted_file_is_forgotten(content_dir: Path, settings: Settings) -> None:
    """A deleted file leaves the index and nothing is re-read."""
    write(content_dir, "a.md")
    write(content_dir, "b.md")
    first, _ = scan(settings)
    (content_dir / "a.md").unlink()

    second, parsed = scan(settings, first.index)

    assert "a.md" in first.index.entries
    assert list(second.index.entries) == ["b.md"]
    assert second.index.entries["b.md"] is first.index.entries["b.md"]
    assert parsed == []
    assert second.files_seen == 1


def test_added_file_is_read(content_dir: Path, settings: Settings) -> None:
    """A file added since the last scan is read, and only it."""
    write(content_dir, "a.md")
    first, _ = scan(settings)
    write(content_dir, "new/b.md")

    second, parsed = scan(settings, first.index)

    assert parsed == ["new/b.md"]
    assert sorted(second.index.entries) == ["a.md", "new/b.md"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.md", True),
        ("a.markdown", True),
        ("A.MD", True),
        ("b.MarkDown", True),
        ("#1 news.md", True),
        ("with space.md", True),
        ("证券时报.md", True),
        (".hidden.md", False),
        (".#a.md", False),
        ("a.md~", False),
        ("a.md.swp", False),
        ("#a.md#", False),
        ("notes.txt", True),
        ("123_4f9a1c2e.TXT", True),
        ("a.txt~", False),
        ("#a.txt#", False),
        ("a.mdx", False),
        ("README", False),
        ("md", False),
    ],
)
def test_article_names(name: str, expected: bool) -> None:
    """Markdown files in any case are articles; hidden files, editor leftovers and other extensions are not."""
    assert is_article_name(name) is expected


def test_scan_ignores_hidden_leftovers_and_other_files(content_dir: Path, settings: Settings) -> None:
    """A scan reads article files in any sub-folder and skips hidden files and folders, leftovers and other files."""
    articles = ["A.MD", "b.Markdown", "sub/deep/er/c.md", "#1 news.md", "sub/123_4f9a1c2e.txt"]
    ignored = [
        ".hidden.md",
        ".drafts/a.md",
        "sub/.git/x.md",
        "a.md~",
        "a.md.swp",
        "#a.md#",
        "notes.html",
        "b.txt~",
        ".b.txt.swp",
        "sub/readme.rst",
        "a.mdx",
    ]
    for name in [*articles, *ignored]:
        write(content_dir, name)
    (content_dir / "folder.md").mkdir()

    result, parsed = scan(settings)

    assert sorted(result.index.entries) == sorted(articles)
    assert sorted(parsed) == sorted(articles)
    assert result.files_seen == len(articles)


def test_names_with_spaces_hashes_and_non_ascii(content_dir: Path, settings: Settings) -> None:
    """File and folder names with spaces, `#` and non-ASCII letters are read under their own names."""
    names = ["with space.md", "issue #12.md", "证券 新闻/要闻 #1.md", "café/naïve.md"]
    for name in names:
        write(content_dir, name)

    result, _ = scan(settings)

    assert sorted(result.index.entries) == sorted(names)
    assert [a.source for a in result.index.articles()] == sorted(names)
    assert result.failed == 0


def test_name_that_is_not_utf8_is_read(content_dir: Path, settings: Settings) -> None:
    """A file name whose bytes are not UTF-8 is read under a printable source instead of breaking the scan."""
    path = Path(os.fsdecode(bytes(content_dir) + b"/caf\xe9.md"))
    path.write_text(article_text({"title": "Latin-1 name", "date": DATE}), encoding="utf-8")

    result, _ = scan(settings)

    assert list(result.index.entries) == ["caf\\xe9.md"]
    article = result.index.entries["caf\\xe9.md"].article
    assert article is not None
    assert article.title == "Latin-1 name"
    article.source.encode("utf-8")  # a source must be text every encoder accepts


def test_link_to_a_file_inside_is_read_under_its_own_path(content_dir: Path, settings: Settings) -> None:
    """A link to a file inside the content directory is read under the link's path."""
    write(content_dir, "real/a.md", title="The article")
    (content_dir / "link.md").symlink_to(content_dir / "real" / "a.md")
    (content_dir / "relative.md").symlink_to(Path("real") / "a.md")

    result, parsed = scan(settings)

    assert sorted(parsed) == ["link.md", "real/a.md", "relative.md"]
    article = result.index.entries["link.md"].article
    assert article is not None
    assert article.source == "link.md"
    assert article.title == "The article"
    assert "/link/" in article.link


def test_link_to_a_folder_inside_is_read_under_its_own_path(content_dir: Path, settings: Settings) -> None:
    """The files of a linked folder inside the content directory are read under the link's path."""
    write(content_dir, "posts/a.md")
    write(content_dir, "posts/sub/b.md")
    (content_dir / "alias").symlink_to(content_dir / "posts", target_is_directory=True)

    result, _ = scan(settings)

    assert sorted(result.index.entries) == ["alias/a.md", "alias/sub/b.md", "posts/a.md", "posts/sub/b.md"]
    article = result.index.entries["alias/sub/b.md"].article
    assert article is not None
    assert article.source == "alias/sub/b.md"


def test_links_leaving_the_content_directory_are_ignored(tmp_path: Path, content_dir: Path, settings: Settings) -> None:
    """Links to a file or a folder outside the content directory, even through a link inside, are not followed."""
    outside = tmp_path / "outside"
    write(outside, "secret.md")
    write(content_dir, "a.md")
    (content_dir / "secret.md").symlink_to(outside / "secret.md")
    (content_dir / "out").symlink_to(outside, target_is_directory=True)
    (content_dir / "up.md").symlink_to(Path("..") / "outside" / "secret.md")
    (content_dir / "hop").symlink_to(content_dir / "out", target_is_directory=True)

    result, parsed = scan(settings)

    assert list(result.index.entries) == ["a.md"]
    assert parsed == ["a.md"]


def test_link_loops_terminate_and_are_ignored(content_dir: Path, settings: Settings) -> None:
    """A folder linking to itself or an ancestor, and a file link pointing to itself, end the walk and are skipped."""
    write(content_dir, "posts/a.md")
    (content_dir / "posts" / "up").symlink_to(Path(".."), target_is_directory=True)
    (content_dir / "posts" / "self").symlink_to(Path("."), target_is_directory=True)
    (content_dir / "root").symlink_to(content_dir, target_is_directory=True)
    (content_dir / "loop.md").symlink_to(content_dir / "loop.md")
    (content_dir / "ping.md").symlink_to(content_dir / "pong.md")
    (content_dir / "pong.md").symlink_to(content_dir / "ping.md")

    result, _ = scan(settings)

    assert list(result.index.entries) == ["posts/a.md"]
    assert result.index.problems() == ()


def test_a_path_crosses_at_most_one_folder_link(content_dir: Path, settings: Settings) -> None:
    """Folders that all link to each other give each file once directly and once per link, not n! paths."""
    names = [f"d{i}" for i in range(8)]
    for name in names:
        write(content_dir, f"{name}/a.md")
    for name in names:
        for other in names:
            if other != name:
                (content_dir / name / f"to-{other}").symlink_to(Path("..") / other, target_is_directory=True)

    result, _ = scan(settings)

    assert len(result.index.entries) == 8 + 8 * 7
    assert "d0/to-d1/a.md" in result.index.entries
    assert "d0/to-d1/to-d2/a.md" not in result.index.entries


def test_dangling_link_is_ignored(content_dir: Path, settings: Settings) -> None:
    """A link whose target does not exist is skipped without a problem."""
    write(content_dir, "a.md")
    (content_dir / "gone.md").symlink_to(content_dir / "missing.md")
    (content_dir / "gone-folder").symlink_to(content_dir / "missing", target_is_directory=True)

    result, _ = scan(settings)

    assert list(result.index.entries) == ["a.md"]
    assert result.index.problems() == ()


def test_retargeted_link_is_reread(content_dir: Path, settings: Settings) -> None:
    """A link pointed at another file is re-read, as its target's identity changed."""
    write(content_dir, "real/one.md", title="One")
    write(content_dir, "real/two.md", title="Two")
    link = content_dir / "link.md"
    link.symlink_to(content_dir / "real" / "one.md")
    first, _ = scan(settings)
    link.unlink()
    link.symlink_to(content_dir / "real" / "two.md")

    second, parsed = scan(settings, first.index)

    assert parsed == ["link.md"]
    article = second.index.entries["link.md"].article
    assert article is not None
    assert article.title == "Two"


def test_fifo_named_like_an_article_is_ignored(content_dir: Path, settings: Settings) -> None:
    """A FIFO named *.md is skipped rather than opened, so the scan does not hang."""
    write(content_dir, "a.md")
    os.mkfifo(content_dir / "pipe.md")
    (content_dir / "pipe-link.md").symlink_to(content_dir / "pipe.md")

    result, _ = scan(settings)

    assert list(result.index.entries) == ["a.md"]


def test_file_over_max_bytes_is_a_problem_without_being_read(content_dir: Path) -> None:
    """A file larger than content.max_file_bytes is reported, and never read or parsed."""
    settings = make_settings(content_dir, content={"max_file_bytes": 1000})
    write(content_dir, "a.md")
    huge = content_dir / "huge.md"
    with huge.open("wb") as handle:
        handle.truncate(1 << 40)  # sparse: a terabyte that takes no space, and would take ages to read

    result, parsed = scan(settings)

    assert parsed == ["a.md"]
    assert result.failed == 1
    entry = result.index.entries["huge.md"]
    assert entry.article is None
    assert entry.problem is not None
    assert entry.problem.source == "huge.md"
    assert "max_file_bytes" in entry.problem.reason
    assert result.index.problems() == (entry.problem,)


def test_broken_file_keeps_its_last_good_article(content_dir: Path, settings: Settings) -> None:
    """A published file caught half-written reports a problem but keeps its last good article."""
    path = write(content_dir, "a.md", title="Good")
    first, _ = scan(settings)
    good = first.index.entries["a.md"].article
    path.write_text("---\ntitle: Half\ndate: 2022-05-04\n", encoding="utf-8")  # no closing '---'
    bump_mtime(path)

    second, parsed = scan(settings, first.index)

    entry = second.index.entries["a.md"]
    assert parsed == ["a.md"]
    assert second.failed == 1
    assert entry.problem is not None
    assert "closing '---'" in entry.problem.reason
    assert entry.article is good
    assert list(second.index.articles()) == [good]
    assert second.index.problems() == (entry.problem,)


def test_broken_file_stays_on_its_last_good_article_across_problems(content_dir: Path, settings: Settings) -> None:
    """A file that goes from one problem to another still keeps the article it last had."""
    path = write(content_dir, "a.md", title="Good")
    index, _ = scan(settings)
    good = index.index.entries["a.md"].article
    for number, text in enumerate(["---\ntitle: x\n", "---\ntitle: x\ndate: 2022-02-30\n---\nno such day\n"]):
        path.write_text(text, encoding="utf-8")
        bump_mtime(path, 10 * (number + 1))
        index, _ = scan(settings, index.index)

    entry = index.index.entries["a.md"]
    assert entry.problem is not None
    assert "date" in entry.problem.reason
    assert entry.article is good


def test_fixed_file_replaces_its_last_good_article(content_dir: Path, settings: Settings) -> None:
    """A broken file fixed again publishes its new version and reports no problem."""
    path = write(content_dir, "a.md", title="Good")
    first, _ = scan(settings)
    path.write_text("---\ntitle: Half\n", encoding="utf-8")
    bump_mtime(path, 10)
    second, _ = scan(settings, first.index)
    write(content_dir, "a.md", title="Fixed")
    bump_mtime(path, 20)

    third, _ = scan(settings, second.index)

    entry = third.index.entries["a.md"]
    assert entry.problem is None
    assert entry.article is not None
    assert entry.article.title == "Fixed"
    assert third.index.problems() == ()


def test_deleted_broken_file_is_forgotten(content_dir: Path, settings: Settings) -> None:
    """Deleting a broken file forgets both its problem and its last good article."""
    path = write(content_dir, "a.md", title="Good")
    write(content_dir, "b.md", title="Other")
    first, _ = scan(settings)
    path.write_text("---\ntitle: Half\n", encoding="utf-8")
    bump_mtime(path)
    second, _ = scan(settings, first.index)
    path.unlink()

    third, _ = scan(settings, second.index)

    assert list(third.index.entries) == ["b.md"]
    assert third.index.problems() == ()
    assert [a.title for a in third.index.articles()] == ["Other"]


def test_never_good_file_has_no_article(content_dir: Path, settings: Settings) -> None:
    """A file that was never valid is a problem with no article to publish."""
    (content_dir / "bad.md").write_text("no front matter\n", encoding="utf-8")

    result, _ = scan(settings)

    entry = result.index.entries["bad.md"]
    assert entry.article is None
    assert entry.problem is not None
    assert result.failed == 1
    assert list(result.index.articles()) == []


@pytest.mark.parametrize("replacement", ["removed", "file"])
def test_missing_content_directory_keeps_the_previous_index(
    content_dir: Path, settings: Settings, replacement: str
) -> None:
    """When the content directory is gone or is a file, the scan reports an error and returns the previous index."""
    write(content_dir, "a.md")
    first, _ = scan(settings)
    shutil.rmtree(content_dir)
    if replacement == "file":
        content_dir.write_text("not a folder", encoding="utf-8")

    second, parsed = scan(settings, first.index)

    assert second.error is not None
    assert str(content_dir) in second.error
    assert second.index is first.index
    assert parsed == []
    assert second.files_seen == 0


def test_scan_recovers_when_the_content_directory_returns(
    tmp_path: Path, content_dir: Path, settings: Settings
) -> None:
    """Once the content directory is back, the next scan has no error and reads what changed."""
    write(content_dir, "a.md")
    first, _ = scan(settings)
    aside = tmp_path / "aside"
    content_dir.rename(aside)
    missing, _ = scan(settings, first.index)
    aside.rename(content_dir)
    write(content_dir, "b.md")

    back, parsed = scan(settings, missing.index)

    assert missing.error is not None
    assert back.error is None
    assert parsed == ["b.md"]
    assert sorted(back.index.entries) == ["a.md", "b.md"]


def test_an_emptied_content_directory_looks_unmounted(content_dir: Path, settings: Settings) -> None:
    """A directory that held articles and is now completely empty is an error; the previous index is kept."""
    write(content_dir, "posts/a.md")
    first, _ = scan(settings)
    shutil.rmtree(content_dir / "posts")

    result, parsed = scan(settings, first.index)

    assert result.error is not None
    assert "empty, as when its volume is not mounted" in result.error
    assert result.index is first.index
    assert parsed == []


def test_deleting_every_article_but_keeping_a_folder_publishes_nothing(content_dir: Path, settings: Settings) -> None:
    """Removing every article while the directory still holds something is a real deletion, not a fault."""
    write(content_dir, "posts/a.md")
    first, _ = scan(settings)
    (content_dir / "posts" / "a.md").unlink()

    result, _ = scan(settings, first.index)

    assert result.error is None
    assert result.index.entries == {}


def test_a_content_directory_that_was_always_empty_is_fine(content_dir: Path, settings: Settings) -> None:
    """An empty directory on the first scan is simply empty content."""
    result, _ = scan(settings)
    assert result.error is None
    assert result.index.entries == {}


def test_scan_keeps_bodies_of_reread_files_only(content_dir: Path, settings: Settings) -> None:
    """ScanResult.bodies holds the bodies of the files this scan re-read and parsed as articles, nothing else."""
    write(content_dir, "a.md")
    write(content_dir, "b.md")
    (content_dir / "bad.md").write_text("no front matter\n", encoding="utf-8")
    first, _ = scan(settings)
    path = write_article(content_dir, "b.md", {"title": "B2", "date": DATE}, "<p>新的正文</p>")
    bump_mtime(path)

    second, _ = scan(settings, first.index)
    third, _ = scan(settings, second.index)

    assert sorted(first.bodies) == ["a.md", "b.md"]
    assert dict(second.bodies) == {"b.md": read_body(path.read_bytes())}
    assert "新的正文" in second.bodies["b.md"]
    assert dict(third.bodies) == {}


def test_scan_keeps_no_bodies_when_too_many_files_were_reread(
    content_dir: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When more than MAX_KEPT_BODIES files are re-read no body is kept; up to that many, all are."""
    monkeypatch.setattr(feedsvc.index.scan, "MAX_KEPT_BODIES", 2)
    write(content_dir, "a.md")
    write(content_dir, "b.md")
    at_limit, _ = scan(settings)
    write(content_dir, "c.md")

    over_limit, _ = scan(settings)

    assert sorted(at_limit.bodies) == ["a.md", "b.md"]
    assert len(over_limit.reread) == 3
    assert dict(over_limit.bodies) == {}
