"""Archive pages stored gzip-compressed in a build: what is stored, how it is read back, and builds of older format."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from unittest import mock

import pytest

from feedsvc.builddir import storage
from feedsvc.builddir.manifest import MANIFEST, STATUS, read_build
from feedsvc.builddir.pages import MAX_PAGE_BYTES, BuildArchives, gunzip
from feedsvc.errors import BuildError
from feedsvc.feeds.archives import PageCache
from feedsvc.http.app import IMMUTABLE_CACHE_CONTROL, create_app
from feedsvc.model import Format, gzip_bytes, make_document
from feedsvc.runtime.builder import start_builder
from feedsvc.store import Store
from tests.test_archives import HISTORY_PAGES, archive_settings, page_path, serve, write_history

GZIP = {"Accept-Encoding": "gzip"}


@pytest.fixture
def build(content_dir: Path, tmp_path: Path) -> Path:
    """The 130 articles of the archive tests' history, built once."""
    write_history(content_dir, 130)
    out = tmp_path / "out"
    start_builder(archive_settings(content_dir), out, watch=False).stop()
    return out


def make_older(out: Path) -> None:
    """Turn a build into one an older feedsvc wrote: format 1, every archive page a plain file."""
    manifest = json.loads((out / MANIFEST).read_bytes())
    for path, entry in manifest["archives"].items():
        stored = out / (path + ".gz")
        (out / path).write_bytes(gzip.decompress(stored.read_bytes()))
        stored.unlink()
        for key in ("gzip_etag", "stored", "stored_size"):
            del entry[key]
    manifest["format"] = 1
    (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    status = json.loads((out / STATUS).read_bytes())
    (out / STATUS).write_text(json.dumps({**status, "format": 1}, indent=1) + "\n", encoding="utf-8")


def plain_archive_files(out: Path) -> set[str]:
    return {str(p.relative_to(out)) for p in (out / "feeds").glob("*/archive/*") if not p.name.endswith(".gz")}


def test_the_stored_bytes_are_the_gzip_form_of_the_plain_page(build: Path) -> None:
    """Each stored page decompresses to the plain bytes of its ETag, and is those bytes' one gzip form."""
    manifest = json.loads((build / MANIFEST).read_bytes())
    assert manifest["format"] == 2
    for path, entry in manifest["archives"].items():
        stored = (build / (path + ".gz")).read_bytes()
        body = gzip.decompress(stored)
        assert make_document(body, entry["type"]).etag == entry["etag"], path
        assert stored == gzip_bytes(body), path
        assert stored[4:8] == b"\0\0\0\0"  # no time in the header
        assert stored[3] & 0x08 == 0  # and no file name
    assert plain_archive_files(build) == set()


def test_serve_from_sends_the_stored_gzip_bytes_without_compressing_again(content_dir: Path, build: Path) -> None:
    """A gzip client gets the stored file's bytes as they are; a plain client the decompressed page, same ETags."""
    client = create_app(Store(read_build(build))).test_client()
    path = page_path("all", 1, Format.ATOM)
    stored = (build / (path.lstrip("/") + ".gz")).read_bytes()
    with mock.patch("feedsvc.model.gzip_bytes", side_effect=AssertionError("compressed again")):
        zipped = client.get(path, headers=GZIP)
        plain = client.get(path)
    assert (zipped.status_code, zipped.headers["Content-Encoding"]) == (200, "gzip")
    assert zipped.get_data() == stored
    assert plain.get_data() == gzip.decompress(stored)
    assert plain.headers.get("Content-Encoding") is None
    assert zipped.headers["ETag"] == plain.headers["ETag"][:-1] + '-gz"'
    assert zipped.headers["Cache-Control"] == plain.headers["Cache-Control"] == IMMUTABLE_CACHE_CONTROL


def test_an_older_build_with_plain_pages_is_served_as_before(content_dir: Path, build: Path) -> None:
    """`serve --from` reads a format-1 build (plain archive pages) and answers both encodings as serve does."""
    make_older(build)
    served = serve(archive_settings(content_dir))
    client = create_app(Store(read_build(build))).test_client()
    for path in sorted(HISTORY_PAGES):
        for asked in ({}, GZIP):
            ours, theirs = client.get(path, headers=asked), served.get(path, **asked)
            assert (ours.status_code, ours.get_data()) == (200, theirs.get_data()), path
            for header in ("ETag", "Cache-Control", "Content-Type", "Content-Encoding", "Last-Modified"):
                assert ours.headers.get(header) == theirs.headers.get(header), (path, header)


def test_a_build_over_an_older_one_stores_its_pages_compressed(content_dir: Path, build: Path) -> None:
    """A new build over a format-1 one compresses each page from its plain file (no render) and removes the plain."""
    make_older(build)
    plain = plain_archive_files(build)
    assert len(plain) == len(HISTORY_PAGES)
    (build / "feeds" / "all" / "archive" / "README.txt").write_text("not the build's\n", encoding="utf-8")

    builder = start_builder(archive_settings(content_dir), build, watch=False)
    builder.stop()

    assert builder.refresher.pages.rendered == 0
    assert builder.files_removed == len(plain)
    assert plain_archive_files(build) == {"feeds/all/archive/README.txt"}  # only files a manifest listed go
    manifest = json.loads((build / MANIFEST).read_bytes())
    assert manifest["format"] == 2
    assert {tuple(entry["stored"]) for entry in manifest["archives"].values()} == {("gzip",)}
    served = serve(archive_settings(content_dir))
    client = create_app(Store(read_build(build))).test_client()
    for path in sorted(HISTORY_PAGES):
        assert client.get(path).get_data() == served.body(path), path


def test_a_new_build_over_an_older_one_renders_pages_whose_file_does_not_match(content_dir: Path, build: Path) -> None:
    """An older build's page file that no longer holds the bytes of its ETag is made again, not compressed as it is."""
    make_older(build)
    page = build / page_path("all", 1, Format.RSS).lstrip("/")
    page.write_bytes(b"<rss>damaged</rss>")

    builder = start_builder(archive_settings(content_dir), build, watch=False)
    builder.stop()

    assert builder.refresher.pages.rendered == 1
    body = gzip.decompress((build / (page_path("all", 1, Format.RSS).lstrip("/") + ".gz")).read_bytes())
    assert body == serve(archive_settings(content_dir)).body(page_path("all", 1, Format.RSS))


def test_a_stored_page_that_is_not_whole_is_not_served(build: Path) -> None:
    """A stored page cut short answers 404; one replaced by a newer build is served, but not as immutable."""
    archives = read_build(build).archives
    assert isinstance(archives, BuildArchives)
    cut, newer = page_path("all", 1, Format.RSS), page_path("all", 2, Format.RSS)
    stored = build / (cut.lstrip("/") + ".gz")
    stored.write_bytes(stored.read_bytes()[:-10])
    (build / (newer.lstrip("/") + ".gz")).write_bytes(gzip_bytes(b"<rss>newer</rss>"))
    client = create_app(Store(read_build(build))).test_client()

    assert client.get(cut).status_code == 404
    answer = client.get(newer)
    assert (answer.status_code, answer.get_data()) == (200, b"<rss>newer</rss>")
    assert answer.headers["Cache-Control"] != IMMUTABLE_CACHE_CONTROL
    assert answer.headers["ETag"] == make_document(b"<rss>newer</rss>", Format.RSS.media_type).etag


def test_gunzip_is_bounded_and_checks_the_whole_file() -> None:
    """Decompressing stops past its limit, and refuses a cut, trailing or non-gzip file."""
    body = b"<rss>" + b"x" * 10_000 + b"</rss>"
    stored = gzip_bytes(body)
    assert gunzip(stored, len(body)) == body
    assert gunzip(stored, len(body) - 1) is None
    assert gunzip(stored[:-1], len(body)) is None
    assert gunzip(stored + stored, 2 * len(body)) is None
    assert gunzip(body, len(body)) is None
    assert MAX_PAGE_BYTES >= 1024 * 1024


def test_the_page_cache_counts_the_gzip_form_it_holds() -> None:
    """Pages kept with their gzip form count both towards the cache's bound, so fewer are kept."""
    body = bytes(range(256)) * 40  # compresses little: its gzip form is about as large
    forms = [make_document(body + bytes([n]), "application/rss+xml", gzip_body=gzip_bytes(body)) for n in range(3)]
    cache = PageCache(max_bytes=2 * len(body) + 100)
    for number, document in enumerate(forms):
        cache.put(str(number), document)
    assert [cache.get(str(n)) is not None for n in range(3)] == [False, False, True]

    plain = PageCache(max_bytes=2 * len(body) + 100)
    for number in range(3):
        plain.put(str(number), make_document(body + bytes([number]), "application/rss+xml"))
    assert [plain.get(str(n)) is not None for n in range(3)] == [False, True, True]


def test_a_page_that_cannot_be_written_fails_the_build_and_the_next_build_writes_it(
    content_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A page whose file cannot be written (a full disk) writes no manifest; the next build writes every page."""
    write_history(content_dir, 130)
    out = tmp_path / "out"
    real = storage.write_atomically

    def full_disk(path: Path, data: bytes) -> bool:
        if path.name == "2.atom.gz":
            raise OSError(28, "No space left on device")
        return real(path, data)

    with mock.patch("feedsvc.builddir.storage.write_atomically", side_effect=full_disk):
        builder = start_builder(archive_settings(content_dir), out, watch=False)
    try:
        assert builder.written is None
        assert not (out / MANIFEST).exists()
        assert "cannot write the build" in caplog.text
        assert "No space left on device" in caplog.text

        builder.build()

        listed = json.loads((out / MANIFEST).read_bytes())["archives"]
        assert {"/" + path for path in listed} == HISTORY_PAGES
        assert all((out / (path + ".gz")).is_file() for path in listed)
    finally:
        builder.stop()


def archive_file_names(out: Path) -> set[str]:
    return {str(p.relative_to(out)) for p in (out / "feeds").glob("*/archive/*")}


@pytest.mark.parametrize(
    ("setting", "suffixes"), [("plain", ("",)), ("both", ("", ".gz")), ("gzip", (".gz",))], ids=str
)
def test_build_archive_pages_chooses_the_files_and_a_change_converts_without_rendering(
    content_dir: Path, build: Path, setting: str, suffixes: tuple[str, ...]
) -> None:
    """`build.archive_pages` names the files of each page; a switch stores each page from its file, unrendered."""
    settings = archive_settings(content_dir, build={"archive_pages": setting})
    builder = start_builder(settings, build, watch=False)
    builder.stop()

    assert builder.refresher.pages.rendered == 0
    pages = {path.lstrip("/") for path in HISTORY_PAGES}
    assert archive_file_names(build) == {page + suffix for page in pages for suffix in suffixes}
    manifest = json.loads((build / MANIFEST).read_bytes())
    assert {tuple(entry["stored"]) for entry in manifest["archives"].values()} == {pages_stored(setting)}
    served = serve(archive_settings(content_dir))
    client = create_app(Store(read_build(build))).test_client()
    for path in sorted(HISTORY_PAGES):
        for asked in ({}, GZIP):
            ours, theirs = client.get(path, headers=asked), served.get(path, **asked)
            assert (ours.status_code, ours.get_data(), ours.headers["ETag"]) == (
                200,
                theirs.get_data(),
                theirs.headers["ETag"],
            ), path
    for suffix in suffixes:
        stored = (build / (page_path("all", 1, Format.RSS).lstrip("/") + suffix)).read_bytes()
        plain = served.body(page_path("all", 1, Format.RSS))
        assert stored == (gzip_bytes(plain) if suffix else plain)

    again = start_builder(settings, build, watch=False)
    again.stop()
    assert (again.files_written, again.files_removed) == (0, 0)


def pages_stored(setting: str) -> tuple[str, ...]:
    return {"plain": ("plain",), "both": ("plain", "gzip"), "gzip": ("gzip",)}[setting]


def test_a_manifest_naming_other_stored_files_is_refused(build: Path) -> None:
    """A manifest whose page says it is stored as something other than plain and gzip is not one feedsvc reads."""
    manifest = json.loads((build / MANIFEST).read_bytes())
    next(iter(manifest["archives"].values()))["stored"] = ["brotli"]
    (build / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BuildError, match="stored"):
        read_build(build)
