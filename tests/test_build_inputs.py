"""A one-off build of what was built already keeps the build: its inputs are recorded, and compared by a walk alone."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

import feedsvc.runtime.builder
import feedsvc.runtime.inputs
from feedsvc.builddir.manifest import MANIFEST, STATUS
from feedsvc.config import Settings
from feedsvc.index.cache import Cache
from feedsvc.runtime.builder import Builder, start_builder
from feedsvc.runtime.inputs import content_digest, walked_digest
from tests.conftest import make_settings
from tests.corpus import write_article, write_corpus

KEPT = "kept, nothing changed"


def build(settings: Settings, out: Path, *, watch: bool = False) -> Builder:
    builder = start_builder(settings, out, watch=watch)
    builder.stop()
    return builder


def files_of(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def status(out: Path) -> dict[str, object]:
    data = json.loads((out / STATUS).read_bytes())
    assert isinstance(data, dict)
    return data


@pytest.fixture
def built(content_dir: Path, tmp_path: Path) -> tuple[Settings, Path]:
    """Six articles, one that does not parse and one held until 2027, built once into `out`."""
    write_corpus(content_dir, 6)
    (content_dir / "broken.md").write_text("---\ntitle: [unclosed\n---\n", encoding="utf-8")
    write_article(content_dir, "later.md", {"title": "Later", "date": "2027-01-01"})
    settings = make_settings(content_dir, feeds={"archive_size": 2})
    out = tmp_path / "out"
    build(settings, out)
    return settings, out


def test_a_build_of_the_same_inputs_is_kept_without_loading_the_index(
    built: tuple[Settings, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing is read but the walk's stamps: the files stay, byte for byte; the status says a refresh ran."""
    settings, out = built
    before = files_of(out)

    with (
        caplog.at_level(logging.INFO, logger="feedsvc.build"),
        mock.patch.object(Cache, "load_index", side_effect=AssertionError("the index was loaded")),
    ):
        builder = build(settings, out)

    assert any(KEPT in r.getMessage() for r in caplog.records)
    after = files_of(out)
    assert {name: body for name, body in after.items() if name != STATUS} == {
        name: body for name, body in before.items() if name != STATUS
    }
    snapshot = builder.refresher.store.snapshot
    assert builder.written is snapshot
    assert (builder.files_written, builder.files_removed) == (0, 0)
    assert [p.source for p in snapshot.problems] == ["broken.md"]
    assert snapshot.last_refresh is not None
    assert (snapshot.last_refresh.files_seen, snapshot.last_refresh.files_parsed) == (8, 0)
    assert snapshot.last_refresh.started > datetime.fromisoformat(str(status_of_before(before)["started"]))
    assert status(out)["inputs"] == json.loads(before[STATUS])["inputs"]  # and the next build may keep it again


def status_of_before(files: dict[str, bytes]) -> dict[str, object]:
    scan = json.loads(files[STATUS])["last_scan"]
    assert isinstance(scan, dict)
    return scan


def _edit(settings: Settings) -> None:
    path = settings.content_dir / "broken.md"
    path.write_text("---\ntitle: Mended\ndate: 2024-05-01\n---\nNow it parses.\n", encoding="utf-8")


def _touch(settings: Settings) -> None:
    path = next(settings.content_dir.rglob("*.md"))
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1))


def _add(settings: Settings) -> None:
    write_article(settings.content_dir, "new.md", {"title": "New", "date": "2024-06-01"})


def _delete(settings: Settings) -> None:
    (settings.content_dir / "broken.md").unlink()


def _rename(settings: Settings) -> None:
    (settings.content_dir / "broken.md").rename(settings.content_dir / "broken-too.md")


def _built_file_gone(settings: Settings) -> None:
    out = settings.content_dir.parent / "out"
    page = next((out / "feeds" / "all" / "archive").iterdir())
    page.unlink()


def _code(settings: Settings) -> None:
    feedsvc.runtime.inputs.code_identity.cache_clear()
    original = feedsvc.runtime.inputs.code_identity.__wrapped__
    mock.patch.object(feedsvc.runtime.inputs, "code_identity", return_value=original() + "+a newer feedsvc").start()


def _due(settings: Settings) -> None:
    later = datetime(2027, 1, 2, tzinfo=UTC)
    mock.patch.object(feedsvc.runtime.builder, "utc_now", return_value=later).start()


@pytest.mark.parametrize(
    "change",
    [_edit, _touch, _add, _delete, _rename, _built_file_gone, _code, _due],
    ids=lambda change: change.__name__.strip("_"),
)
def test_any_change_of_the_inputs_makes_the_build_again(
    built: tuple[Settings, Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    change: Callable[[Settings], None],
) -> None:
    """A file edited, touched, added, deleted or renamed, a built file gone, other code, a held article due."""
    settings, out = built
    change(settings)
    fresh = tmp_path / "fresh"
    try:
        with caplog.at_level(logging.INFO, logger="feedsvc.build"):
            builder = build(settings, out)
        build(settings, fresh)
    finally:
        mock.patch.stopall()

    assert not any(KEPT in r.getMessage() for r in caplog.records)
    assert builder.refresher.store.snapshot.last_refresh is not None
    assert builder.refresher.store.snapshot.last_refresh.files_seen > 0
    assert (out / MANIFEST).read_bytes() == (fresh / MANIFEST).read_bytes()
    assert status(out)["inputs"] == status(fresh)["inputs"]


def test_other_settings_make_the_build_again(built: tuple[Settings, Path], caplog: pytest.LogCaptureFixture) -> None:
    settings, out = built
    other = make_settings(settings.content_dir, feeds={"archive_size": 3})

    with caplog.at_level(logging.INFO, logger="feedsvc.build"):
        build(other, out)

    assert not any(KEPT in r.getMessage() for r in caplog.records)


def test_a_build_that_watches_records_no_inputs_and_keeps_nothing(
    content_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A builder that keeps building makes its first build as always; the next one-off build records them."""
    write_corpus(content_dir, 3)
    settings = make_settings(content_dir)
    out = tmp_path / "out"
    build(settings, out, watch=True)
    assert status(out)["inputs"] is None

    with caplog.at_level(logging.INFO, logger="feedsvc.build"):
        build(settings, out)
        build(settings, out, watch=True)
    assert not any(KEPT in r.getMessage() for r in caplog.records)
    assert status(out)["inputs"] is None


def test_the_index_and_a_walk_give_the_same_digest_of_odd_names_links_and_folders(
    content_dir: Path, tmp_path: Path
) -> None:
    """What a build records (from its index) is what the next one's walk finds, file for file."""
    write_corpus(content_dir, 3)
    (content_dir / "deep" / "er").mkdir(parents=True)
    write_article(content_dir, "deep/er/x.md", {"title": "Deep", "date": "2024-01-01"})
    (content_dir / os.fsdecode(b"caf\xe9.md")).write_text("---\ntitle: Latin-1 name\n---\nx\n", encoding="utf-8")
    (content_dir / "line\nbreak.md").write_text("---\ntitle: A newline\n---\nx\n", encoding="utf-8")
    (content_dir / "link.md").symlink_to(content_dir / "deep" / "er" / "x.md")
    (content_dir / ".hidden.md").write_text("---\ntitle: Hidden\n---\n", encoding="utf-8")
    (content_dir / "empty.md").write_bytes(b"")
    settings = make_settings(content_dir)
    out = tmp_path / "out"

    build(settings, out)

    inputs = status(out)["inputs"]
    assert isinstance(inputs, dict)
    assert inputs["content"] == walked_digest(settings)
    assert str(inputs["content"]).startswith("8:")


stamps = st.lists(
    st.tuples(st.text(min_size=1, max_size=20), st.integers(0, 2**40), st.integers(-(2**63), 2**63 - 1)),
    max_size=20,
    unique_by=lambda stamp: stamp[0],
)


@given(stamps, st.randoms(use_true_random=False))
def test_the_content_digest_is_of_the_set_of_files_in_any_order(
    files: list[tuple[str, int, int]], random: object
) -> None:
    shuffled = list(files)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    assert content_digest(shuffled) == content_digest(files)


@given(stamps.filter(bool), st.integers(0, 19), st.sampled_from(["source", "size", "mtime"]))
def test_the_content_digest_tells_any_one_file_changed(files: list[tuple[str, int, int]], at: int, what: str) -> None:
    source, size, mtime_ns = files[at % len(files)]
    changed = {
        "source": (source + "x", size, mtime_ns),
        "size": (source, size + 1, mtime_ns),
        "mtime": (source, size, mtime_ns + 1),
    }[what]
    if changed[0] in {f[0] for f in files}:
        return
    other = [changed if f[0] == source else f for f in files]
    assert content_digest(other) != content_digest(files)
    assert content_digest(files[:-1]) != content_digest(files)
