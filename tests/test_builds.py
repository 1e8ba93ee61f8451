"""Build directories: the manifest, reading a build back, following new builds, and the builder that writes them."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import timedelta
from pathlib import Path
from unittest import mock

import orjson
import pytest
from flask.testing import FlaskClient

from feedsvc.builddir.follower import PATIENCE_POLLS, Follower, empty_snapshot
from feedsvc.builddir.manifest import MANIFEST, STATUS, BuildError, manifest_of, read_build, status_of, write_build
from feedsvc.config import Settings
from feedsvc.http.app import create_app
from feedsvc.model import Snapshot
from feedsvc.refresh.refresher import Refresher
from feedsvc.runtime.builder import start_builder
from feedsvc.store import Store
from tests.conftest import Clock, make_settings
from tests.corpus import write_article, write_corpus


def built(settings: Settings) -> Snapshot:
    store = Store()
    Refresher(settings, store, clock=Clock()).refresh()
    return store.snapshot


def files_of(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def snapshot(content_dir: Path, settings: Settings) -> Snapshot:
    write_corpus(content_dir, 6)
    (content_dir / "broken.md").write_text("---\ntitle: [unclosed\n---\n", encoding="utf-8")
    return built(settings)


def test_a_build_keeps_which_redirects_are_permanent(tmp_path: Path, snapshot: Snapshot) -> None:
    """The names a config holds to their slug stay permanent redirects when a build is read back."""
    names = frozenset(list(snapshot.redirects)[:1]) or frozenset({"金融"})
    write_build(dataclasses.replace(snapshot, permanent_redirects=names), tmp_path / "out")

    assert read_build(tmp_path / "out").permanent_redirects == names


def test_a_build_reads_back_as_the_snapshot_it_was(tmp_path: Path, snapshot: Snapshot) -> None:
    """Every document (bytes, type, ETag, Last-Modified), the redirects and the health survive the round trip."""
    out = tmp_path / "out"
    write_build(snapshot, out)

    again = read_build(out)

    assert set(again.documents) == set(snapshot.documents)
    for path, document in snapshot.documents.items():
        copy = again.documents[path]
        assert (copy.body, copy.media_type, copy.etag, copy.last_modified) == (
            document.body,
            document.media_type,
            document.etag,
            document.last_modified,
        )
    assert again.redirects == snapshot.redirects
    assert again.permanent_redirects == snapshot.permanent_redirects
    assert (again.max_age, again.articles, again.held, again.feed_documents) == (
        snapshot.max_age,
        snapshot.articles,
        snapshot.held,
        snapshot.feed_documents,
    )
    assert again.problems == snapshot.problems
    assert [p.source for p in again.problems] == ["broken.md"]
    assert again.last_refresh == snapshot.last_refresh
    assert manifest_of(again) == manifest_of(snapshot)


def test_the_manifest_lists_every_file_with_its_etag(tmp_path: Path, snapshot: Snapshot) -> None:
    """The manifest is JSON naming each document's type, ETag and size; the files are laid out like the URLs."""
    out = tmp_path / "out"
    write_build(snapshot, out)
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))

    assert set(manifest["documents"]) == set(snapshot.documents)
    rss = manifest["documents"]["feeds/all.rss"]
    assert rss["etag"] == snapshot.documents["feeds/all.rss"].etag
    assert rss["type"] == "application/rss+xml; charset=utf-8"
    assert rss["size"] == len((out / "feeds" / "all.rss").read_bytes())
    assert (out / "index.html").is_file()
    assert (out / "feeds.opml").is_file()


def test_two_builds_of_the_same_content_are_byte_identical(tmp_path: Path, content_dir: Path) -> None:
    """Two builders (other caches, other output folders, other times) write the same feeds and manifest."""
    write_corpus(content_dir, 10)
    first, second = tmp_path / "one", tmp_path / "two"
    write_build(built(make_settings(content_dir, cache={"dir": str(tmp_path / "c1")})), first)
    write_build(built(make_settings(content_dir, cache={"dir": str(tmp_path / "c2")})), second)

    one, two = files_of(first), files_of(second)
    assert {p: b for p, b in one.items() if p != STATUS} == {p: b for p, b in two.items() if p != STATUS}
    assert MANIFEST in one


def test_reading_again_reads_only_changed_documents(tmp_path: Path, content_dir: Path, settings: Settings) -> None:
    """A new manifest costs a read only of the files whose ETag changed; the others are the same objects."""
    write_corpus(content_dir, 6)
    out = tmp_path / "out"
    write_build(built(settings), out)
    first = read_build(out)
    write_article(content_dir, "extra.md", {"title": "Extra", "date": "2025-06-01T00:00Z", "categories": ["ESG"]})
    write_build(built(settings), out)

    with mock.patch.object(Path, "read_bytes", autospec=True, side_effect=Path.read_bytes) as reads:
        second = read_build(out, first)

    read = {str(call.args[0].relative_to(out)) for call in reads.call_args_list}
    changed = {p for p, d in second.documents.items() if first.documents.get(p) != d}
    assert read == changed
    assert "feeds/all.rss" in read
    assert {"feeds/all.rss", "feeds/esg.rss", "index.html"} <= read
    unchanged = set(second.documents) - read
    assert unchanged
    assert all(second.documents[p] is first.documents[p] for p in unchanged)


def test_a_file_newer_than_its_manifest_is_noticed(tmp_path: Path, snapshot: Snapshot) -> None:
    """A document replaced after its manifest was written (a build under way) does not pass as the listed one."""
    out = tmp_path / "out"
    write_build(snapshot, out)
    (out / "feeds" / "all.rss").write_bytes(b"<rss>half a build</rss>")

    with pytest.raises(BuildError, match=r"all\.rss: does not match the manifest's ETag"):
        read_build(out)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.unlink(), "cannot be read"),
        (lambda m: m.write_text("{not json", encoding="utf-8"), "not JSON"),
        (lambda m: m.write_text('{"format": 99}', encoding="utf-8"), "format is not 1"),
        (lambda m: m.write_text('{"format": 1, "documents": {}}', encoding="utf-8"), "a field is missing"),
    ],
)
def test_a_broken_manifest_is_a_clear_error(tmp_path: Path, snapshot: Snapshot, change: object, message: str) -> None:
    """No manifest, bad JSON, another format or a missing field: a BuildError naming the manifest."""
    out = tmp_path / "out"
    write_build(snapshot, out)

    change(out / MANIFEST)  # type: ignore[operator]

    with pytest.raises(BuildError, match=message) as raised:
        read_build(out)
    assert MANIFEST in str(raised.value)


@pytest.mark.parametrize("name", ["../outside.rss", "feeds/../../etc/passwd", "/etc/passwd", "feeds//x.rss", "."])
def test_a_manifest_cannot_name_a_file_outside_the_build(tmp_path: Path, snapshot: Snapshot, name: str) -> None:
    """A document path that would leave the build directory is refused, never opened."""
    out = tmp_path / "out"
    write_build(snapshot, out)
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    manifest["documents"][name] = {"type": "text/plain", "etag": '"x"', "last_modified": None, "size": 1}
    (out / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")

    real_read = Path.read_bytes
    inside = out.resolve()

    def read_inside_only(path: Path) -> bytes:
        assert path.resolve().is_relative_to(inside), f"opened {path}"
        return real_read(path)

    with (
        mock.patch.object(Path, "read_bytes", autospec=True, side_effect=read_inside_only),
        pytest.raises(BuildError, match="is not a path inside the build"),
    ):
        read_build(out)


# --- following a build directory ---------------------------------------------------------------------------------


def test_the_follower_serves_new_builds_and_keeps_the_last_good_one(
    tmp_path: Path, content_dir: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Before a build: degraded and empty; then each new build serves; a broken one leaves the last good serving."""
    out = tmp_path / "out"
    store = Store(empty_snapshot(out))
    follower = Follower(out, store)
    client: FlaskClient = create_app(store).test_client()

    assert not follower.check()
    assert json.loads(client.get("/healthz").data)["status"] == "degraded"
    assert client.get("/feeds/all.rss").status_code == 404

    write_corpus(content_dir, 3)
    write_build(built(settings), out)
    assert follower.check()
    first = client.get("/feeds/all.rss")
    assert first.status_code == 200
    assert json.loads(client.get("/healthz").data)["status"] == "ok"
    assert not follower.check()  # the same manifest: nothing read

    (out / MANIFEST).write_text("{broken", encoding="utf-8")
    caplog.set_level(logging.ERROR, "feedsvc.follow")
    for _ in range(PATIENCE_POLLS):
        follower.check()
    assert client.get("/feeds/all.rss").data == first.data
    health = json.loads(client.get("/healthz").data)
    assert health["status"] == "degraded"
    assert "not JSON" in health["reason"]
    assert any("last good feeds keep serving" in r.getMessage() for r in caplog.records)

    write_article(content_dir, "new.md", {"title": "Fresh news", "date": "2025-06-01T00:00Z"})
    write_build(built(settings), out)
    assert follower.check()
    assert b"Fresh news" in client.get("/feeds/all.rss").data
    assert json.loads(client.get("/healthz").data)["status"] == "ok"


def followed(snapshot: Snapshot, out: Path) -> tuple[Store, Follower]:
    """Write a build of the snapshot, and a store that follows it, the build read once."""
    write_build(snapshot, out)
    store = Store(empty_snapshot(out))
    follower = Follower(out, store)
    assert follower.check()
    return store, follower


def test_a_build_being_written_is_waited_for_quietly(tmp_path: Path, snapshot: Snapshot) -> None:
    """Files not matching a new manifest yet keep the old build serving without degrading, for a few polls."""
    out = tmp_path / "out"
    store, follower = followed(snapshot, out)
    good = store.snapshot

    # A new manifest names a new all.json whose file is not written yet.
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    manifest["documents"]["feeds/all.json"]["etag"] = '"0123456789abcdef0123456789abcdef"'
    (out / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")

    assert not follower.check()
    assert store.snapshot is good
    assert store.snapshot.degraded is None


def test_a_new_status_alone_is_read_without_the_manifest(tmp_path: Path, snapshot: Snapshot) -> None:
    """A heartbeat (each refresh rewrites the status) updates the last refresh; the manifest is not read again."""
    out = tmp_path / "out"
    store, follower = followed(snapshot, out)
    served = store.snapshot
    assert served.last_refresh is not None
    later = dataclasses.replace(served.last_refresh, started=served.last_refresh.started + timedelta(minutes=1))
    (out / STATUS).write_bytes(status_of(dataclasses.replace(snapshot, last_refresh=later, refreshes_failed=2)))

    with mock.patch("feedsvc.builddir.manifest.orjson.loads", wraps=orjson.loads) as parsed:
        assert follower.check()
    assert [len(call.args[0]) for call in parsed.call_args_list] == [(out / STATUS).stat().st_size]
    assert (store.snapshot.last_refresh, store.snapshot.refreshes_failed) == (later, 2)
    assert store.snapshot.documents is served.documents
    assert not follower.check()

    (out / STATUS).write_text('{"format": 2, "last_scan": {"started": 1}}', encoding="utf-8")
    for _ in range(PATIENCE_POLLS):
        assert not follower.check()
    assert store.snapshot.documents is served.documents
    assert "status.json: a field is missing or wrong" in str(store.snapshot.degraded)


# --- the builder -------------------------------------------------------------------------------------------------


def test_the_builder_writes_only_what_changed(tmp_path: Path, content_dir: Path, settings: Settings) -> None:
    """A rebuild writes the changed feeds and the manifest, leaves the rest untouched, removes feeds that are gone."""
    write_corpus(content_dir, 6)
    lone = write_article(content_dir, "lone.md", {"title": "Only one", "date": "2025-01-01", "categories": ["Solo"]})
    out = tmp_path / "out"
    builder = start_builder(settings, out, watch=False)
    try:
        assert builder.written is builder.refresher.store.snapshot
        pages = builder.archive_files or {}
        assert len(pages) == len(builder.written.documents) - 3  # one archive page per feed and format
        feeds = sum(1 for path in builder.written.documents if path.startswith("feeds/"))
        # Every document, every archive page, an HTML view beside each feed, and the manifest.
        assert builder.files_written == len(builder.written.documents) + len(pages) + feeds + 1
        assert (out / "feeds" / "solo.rss").is_file()
        assert (out / "feeds" / "solo.rss.html").is_file()
        before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}

        lone.unlink()
        builder.build()

        assert not (out / "feeds" / "solo.rss").exists()
        assert not (out / "feeds" / "solo.rss.html").exists()
        assert not (out / "feeds" / "solo").exists()
        assert builder.files_removed == 9  # the feeds, their views and the archive pages of Solo
        after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
        rewritten = {str(p.relative_to(out)) for p in after if after[p] != before.get(p)}
        # The newest article left: `all` (and its one archive page), the index and the OPML change;
        # the other categories do not.
        changed = {MANIFEST, "feeds/all.rss", "feeds/all.atom", "feeds/all.json", "index.html", "feeds.opml"}
        changed |= {f"feeds/all/archive/1.{fmt}.gz" for fmt in ("rss", "atom", "json")}
        changed |= {f"feeds/all.{fmt}.html" for fmt in ("rss", "atom", "json")}  # the views of `all`
        assert rewritten == {*changed, STATUS}
        assert builder.files_written == len(changed)
        assert read_build(out).documents.keys() == builder.refresher.store.snapshot.documents.keys()

        manifest = (out / MANIFEST).read_bytes()
        builder.build()  # nothing changed: nothing written but the status, which says when the refresh ran
        assert (builder.files_written, builder.files_removed) == (0, 0)
        assert (out / MANIFEST).read_bytes() == manifest
        status = json.loads((out / STATUS).read_text(encoding="utf-8"))
        assert status["last_scan"]["files_parsed"] == 0
    finally:
        builder.stop()


def test_a_builder_without_its_content_leaves_the_last_build_alone(tmp_path: Path, content_dir: Path) -> None:
    """A first refresh that cannot read the content (a volume not mounted yet) writes nothing over a good build."""
    write_corpus(content_dir, 4)
    out = tmp_path / "out"
    start_builder(make_settings(content_dir), out, watch=False).stop()
    before = files_of(out)
    assert before

    missing = make_settings(tmp_path / "not-mounted")
    builder = start_builder(missing, out, watch=False)
    builder.stop()

    assert builder.written is None
    assert builder.refresher.store.snapshot.degraded
    assert files_of(out) == before
