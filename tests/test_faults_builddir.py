"""Faults a build directory, a WebSub hub or a file name could cause: what a build may remove, slow hubs, log lines."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc import logs
from feedsvc.builder import start_builder
from feedsvc.builds import MANIFEST, BuildError
from feedsvc.cli import main
from feedsvc.output import remove_unlisted
from feedsvc.refresh import Refresher
from feedsvc.store import Store
from tests.conftest import Clock, make_settings
from tests.corpus import write_article, write_corpus

# --- build --out: only the build's own files ---------------------------------------------------------------------

FOREIGN = {
    "feeds/podcast.rss": b"<rss>the podcast, published by another tool</rss>",
    "feeds/data.json": b'{"kept": true}',
    "feeds/podcast/archive/1.atom": b"<feed>an old archive</feed>",
    "index.html": b"<!DOCTYPE html><p>the site's own home page</p>",
}


def _config(tmp_path: Path, content: Path) -> Path:
    path = tmp_path / "feedsvc.yaml"
    path.write_text(f"site:\n  link: https://www.example.com/\ncontent:\n  dir: {content}\n", encoding="utf-8")
    return path


def _plant(out: Path, files: dict[str, bytes]) -> None:
    for relative, data in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _files(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def runner() -> CliRunner:
    """A click runner."""
    return CliRunner()


@pytest.mark.parametrize("watch", [[], ["--watch"]])
def test_build_refuses_a_directory_that_holds_files_of_no_build(
    runner: CliRunner, tmp_path: Path, content_dir: Path, watch: list[str]
) -> None:
    """`build --out DIR` (`--watch` too) into a non-empty directory without a manifest exits 2, touching nothing."""
    write_corpus(content_dir, 3)
    out = tmp_path / "site"
    _plant(out, FOREIGN)
    before = _files(out)

    result = runner.invoke(main, ["build", "--config", str(_config(tmp_path, content_dir)), "--out", str(out), *watch])

    assert result.exit_code == 2, result.output
    assert str(out) in result.output
    assert "--force" in result.output
    assert _files(out) == before
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == sorted(
        {*FOREIGN, "feeds", "feeds/podcast", "feeds/podcast/archive"}
    )


def test_build_with_force_keeps_every_file_it_did_not_write(
    runner: CliRunner, tmp_path: Path, content_dir: Path
) -> None:
    """With --force, a build replaces files of its own names (saying so) and removes none, now or in later builds."""
    write_article(content_dir, "a.md", {"title": "a", "date": "2024-01-01", "categories": ["Gone"]})
    config = _config(tmp_path, content_dir)
    out = tmp_path / "site"
    _plant(out, FOREIGN)

    result = runner.invoke(main, ["build", "--config", str(config), "--out", str(out), "--force"])

    assert result.exit_code == 0, result.output
    assert " 0 removed" in result.output
    assert b"the site's own home page" not in (out / "index.html").read_bytes()
    assert "1 files no build wrote are replaced (--force): index.html" in result.output
    for relative in set(FOREIGN) - {"index.html"}:
        assert (out / relative).read_bytes() == FOREIGN[relative], relative
    assert (out / "feeds" / "gone.rss").is_file()

    # The manifest is the build's now: the next build needs no --force, and removes only what it listed.
    write_article(content_dir, "a.md", {"title": "a", "date": "2024-01-02", "categories": ["Kept"]})
    result = runner.invoke(main, ["build", "--config", str(config), "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert "6 removed" in result.output  # the three feeds of Gone and their three archive pages
    assert not (out / "feeds" / "gone.rss").exists()
    for relative in set(FOREIGN) - {"index.html"}:
        assert (out / relative).read_bytes() == FOREIGN[relative], relative


def test_a_later_build_removes_no_file_added_beside_it(runner: CliRunner, tmp_path: Path, content_dir: Path) -> None:
    """Files put into an existing build directory (another tool's feeds) survive every later build."""
    write_corpus(content_dir, 3)
    config = _config(tmp_path, content_dir)
    out = tmp_path / "site"
    assert runner.invoke(main, ["build", "--config", str(config), "--out", str(out)]).exit_code == 0
    _plant(out, {k: v for k, v in FOREIGN.items() if k != "index.html"})

    result = runner.invoke(main, ["build", "--config", str(config), "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert " 0 removed" in result.output
    for relative in set(FOREIGN) - {"index.html"}:
        assert (out / relative).read_bytes() == FOREIGN[relative], relative


def test_a_broken_manifest_is_not_the_builds_own(tmp_path: Path, content_dir: Path) -> None:
    """A manifest that is not one of feedsvc's (or names a path outside) does not let a build remove anything."""
    write_corpus(content_dir, 2)
    out = tmp_path / "site"
    _plant(out, {MANIFEST: json.dumps({"format": 1, "documents": {"../outside.rss": {}}}).encode()})
    (tmp_path / "outside.rss").write_bytes(b"x")

    with pytest.raises(BuildError, match="not a path inside"):
        start_builder(make_settings(content_dir), out, watch=False)

    start_builder(make_settings(content_dir), out, watch=False, force=True).stop()
    assert (tmp_path / "outside.rss").read_bytes() == b"x"


def test_an_empty_directory_or_a_new_filesystem_is_built_into(tmp_path: Path, content_dir: Path) -> None:
    """An empty directory, or one holding only `lost+found`, needs no --force."""
    write_corpus(content_dir, 2)
    out = tmp_path / "volume"
    (out / "lost+found").mkdir(parents=True)

    start_builder(make_settings(content_dir), out, watch=False).stop()

    assert (out / MANIFEST).is_file()
    assert (out / "lost+found").is_dir()


@pytest.mark.parametrize("where", ["root", "home", "above home", "content", "inside content", "above content", "cache"])
def test_build_refuses_directories_that_are_not_its_own_even_with_force(
    runner: CliRunner, tmp_path: Path, content_dir: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """`/`, the home directory and above, anything overlapping the content or the cache: refused, even with --force."""
    home = tmp_path / "people" / "someone"
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    cache = tmp_path / "cache"
    write_corpus(content_dir, 2)
    config = tmp_path / "feedsvc.yaml"
    config.write_text(
        f"site:\n  link: https://www.example.com/\ncontent:\n  dir: {content_dir}\ncache:\n  dir: {cache}\n",
        encoding="utf-8",
    )
    out = {
        "root": Path("/"),
        "home": home,
        "above home": home.parent,
        "content": content_dir,
        "inside content": content_dir / "public",
        "above content": tmp_path,
        "cache": cache / "public",
    }[where]
    before = sorted(tmp_path.rglob("*"))

    result = runner.invoke(main, ["build", "--config", str(config), "--out", str(out), "--force"])

    assert result.exit_code == 2, result.output
    assert "refused" in result.output
    assert str(out) in result.output
    assert sorted(tmp_path.rglob("*")) == before


def test_build_refuses_a_directory_that_holds_its_config(runner: CliRunner, tmp_path: Path, content_dir: Path) -> None:
    """A build directory is published whole: the one the config file is in is refused, even with --force."""
    write_corpus(content_dir, 2)
    folder = tmp_path / "etc"
    folder.mkdir()
    config = _config(folder, content_dir)

    result = runner.invoke(main, ["build", "--config", str(config), "--out", str(folder), "--force"])

    assert result.exit_code == 2, result.output
    assert str(config) in result.output
    assert sorted(p.name for p in folder.iterdir()) == ["feedsvc.yaml"]


_NAMES = st.lists(st.sampled_from(["a.rss", "b.atom", "c.json", "feeds/d.rss", "feeds/x/archive/1.rss", "i.html"]))


@settings(max_examples=60, deadline=None)
@given(on_disk=_NAMES, before=_NAMES, now=_NAMES)
def test_only_what_the_previous_manifest_listed_is_removed(
    tmp_path_factory: pytest.TempPathFactory, on_disk: list[str], before: list[str], now: list[str]
) -> None:
    """Whatever is on disk, a build removes exactly the files listed before and not now, and nothing else."""
    out = tmp_path_factory.mktemp("out")
    _plant(out, dict.fromkeys(on_disk, b"x"))

    removed = remove_unlisted(out, before, now)

    gone = set(on_disk) & (set(before) - set(now))
    assert removed == len(gone)
    assert set(_files(out)) == set(on_disk) - gone


# --- log lines: one per record, whatever a file name holds -------------------------------------------------------

FAKE = "\n2026-01-01 00:00:00 CRITICAL feedsvc: fake"
# The text format's line: the time with milliseconds, the level, a logger of feedsvc's.
TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: ")


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Put the root logger back as it was after a test that configures it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _refresh_with_a_fake_record(content_dir: Path) -> None:
    write_corpus(content_dir, 2)
    # U+2028 too: JSON allows it raw in a string, but str.splitlines() and log viewers break the line there.
    (content_dir / f"bad{FAKE}\u2028.md").write_text("---\ntitle: [unclosed\n---\nbody\n", encoding="utf-8")
    refresher = Refresher(make_settings(content_dir), Store(), clock=Clock())
    refresher.refresh()
    assert any(FAKE in problem.source for problem in refresher.store.snapshot.problems)


@pytest.mark.usefixtures("root_logging")
def test_a_file_name_cannot_fake_a_text_log_line(content_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With the text format serve uses, a problem naming a file with a newline in it is one escaped line."""
    logs.configure(logging.INFO, "text")

    _refresh_with_a_fake_record(content_dir)

    lines = capsys.readouterr().err.splitlines()
    assert lines
    assert all(TEXT_LINE.match(line) for line in lines), lines
    assert any("bad\\n2026-01-01 00:00:00 CRITICAL feedsvc: fake\\u2028.md" in line for line in lines)


@pytest.mark.usefixtures("root_logging")
def test_a_file_name_is_a_string_in_the_json_log(content_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With the JSON format, every record is one line that parses, the file name whole inside its message string."""
    logs.configure(logging.INFO, "json")

    _refresh_with_a_fake_record(content_dir)

    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert any(f"bad{FAKE}\u2028.md" in record["message"] for record in records)
    assert all(isinstance(record["message"], str) for record in records)


def test_check_prints_one_line_per_problem(runner: CliRunner, tmp_path: Path, content_dir: Path) -> None:
    """`check` prints a problem naming a file with a newline in it on one line, escaped."""
    (content_dir / f"bad{FAKE}.md").write_text("---\ntitle: [unclosed\n---\nbody\n", encoding="utf-8")

    result = runner.invoke(main, ["check", "--config", str(_config(tmp_path, content_dir))])

    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert all(line.startswith(("problem: ", "warning: ")) or " files: " in line for line in lines), lines
    assert any("bad\\n2026-01-01" in line for line in lines)


@settings(max_examples=200, deadline=None)
@given(message=st.text(), args=st.lists(st.text(), max_size=2), fmt=st.sampled_from(logs.FORMATS))
def test_any_message_is_one_log_line(message: str, args: list[str], fmt: str) -> None:
    """Whatever text a message and its arguments hold, a record formats as one line; JSON keeps the message exactly."""
    record = logging.makeLogRecord(
        {"name": "feedsvc.refresh", "levelno": logging.WARNING, "levelname": "WARNING", "msg": "%s" * len(args)}
    )
    record.msg, record.args = message.replace("%", "%%") + " %s" * len(args), tuple(args)

    line = logs.formatter(fmt).format(record)

    assert len(line.splitlines()) == 1
    line.encode("utf-8")  # no lone surrogate left: it could not be written
    if fmt == "json":
        assert json.loads(line)["message"] == record.getMessage()
    else:
        assert line.endswith(logs.escape_controls(record.getMessage()))


def test_a_traceback_keeps_its_lines() -> None:
    """Escaping applies to the record's line: the traceback after it (our own text) keeps its lines."""
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("feedsvc", logging.ERROR, __file__, 1, "failed:\n%s", ("x",), sys.exc_info())

    text = logs.formatter("text").format(record)

    assert text.splitlines()[0].endswith("failed:\\nx")
    assert text.splitlines()[1] == "Traceback (most recent call last):"
