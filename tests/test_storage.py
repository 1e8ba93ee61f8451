"""Where a build is kept: the s3:// URLs taken, a directory's conditional reads, a follower that recovers."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedsvc.builddir.follower import Follower, empty_snapshot
from feedsvc.builddir.manifest import MANIFEST, write_build
from feedsvc.builddir.storage import Directory, bucket_location, url_instead_of_location
from feedsvc.config import Settings
from feedsvc.errors import BuildError
from feedsvc.refresh.refresher import Refresher
from feedsvc.store import Store
from feedsvc.worker import FROM_VAR, WorkerOptions
from tests.corpus import write_corpus


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://feeds/site", "feeds", "site/"),
        ("s3://feeds/site/", "feeds", "site/"),
        ("s3://feeds", "feeds", ""),
        ("s3://feeds.example.com/a/b", "feeds.example.com", "a/b/"),
    ],
)
def test_an_s3_url_names_a_bucket_and_a_prefix(url: str, bucket: str, prefix: str) -> None:
    """`s3://BUCKET/PREFIX` gives the bucket and the key prefix objects are stored under."""
    assert url_instead_of_location(url) is None
    assert bucket_location(url) == (bucket, prefix)


@pytest.mark.parametrize("url", ["s3://ab/site", "s3://Feeds/site", "s3://feeds/a//b", "s3://feeds/a/../b"])
def test_an_s3_url_that_names_no_usable_bucket_or_prefix_is_refused(url: str) -> None:
    """A bucket name S3 refuses, or a prefix with empty or dot parts, is refused before anything is written."""
    assert url_instead_of_location(url) is not None
    with pytest.raises(BuildError, match="expected s3://BUCKET/PREFIX"):
        bucket_location(url)


def test_a_local_path_is_no_url() -> None:
    """Paths, relative or absolute, are directories; only a scheme makes a URL."""
    assert url_instead_of_location("out") is None
    assert url_instead_of_location("/srv/feeds") is None
    assert "cannot publish to" in (url_instead_of_location("https://cdn.example.com/") or "")


def test_a_worker_is_told_a_bucket_as_a_url_not_a_path() -> None:
    """FEEDSVC_FROM=s3://… reaches a worker whole (a path would fold its `//`), and goes back out unchanged."""
    options = WorkerOptions.from_environ({FROM_VAR: "s3://feeds/site"})
    assert (options.build_url, options.build_dir) == ("s3://feeds/site", None)
    assert options.to_environ()[FROM_VAR] == "s3://feeds/site"


def test_a_directory_reads_a_file_again_only_once_it_changed(tmp_path: Path) -> None:
    """A conditional read of a directory's file answers nothing while its size, time and inode stay."""
    directory = Directory(tmp_path)
    (tmp_path / "a.json").write_bytes(b"one")
    first = directory.fetch("a.json", None)
    assert first is not None
    assert first.body == b"one"
    assert directory.fetch("a.json", first.version) is None
    (tmp_path / "a.json").write_bytes(b"three")
    again = directory.fetch("a.json", first.version)
    assert again is not None
    assert again.body == b"three"


def test_a_follower_recovers_when_the_same_build_is_readable_again(
    tmp_path: Path, content_dir: Path, settings: Settings
) -> None:
    """A build directory that goes away and comes back unchanged serves as before and is no longer degraded."""
    write_corpus(content_dir, 4)
    refresher = Refresher(settings, Store())
    refresher.refresh()
    out = tmp_path / "build"
    write_build(refresher.store.snapshot, out)
    store = Store(empty_snapshot(out))
    follower = Follower(out, store)
    assert follower.check()
    served = store.snapshot.documents

    out.rename(tmp_path / "away")
    assert not follower.check()
    assert store.snapshot.degraded is not None
    assert MANIFEST in store.snapshot.degraded
    assert store.snapshot.documents == served

    (tmp_path / "away").rename(out)
    assert follower.check()
    assert store.snapshot.degraded is None
    assert store.snapshot.documents == served
