"""Object storage against a real S3-compatible server (SeaweedFS): `build --out s3://…` and `serve --from s3://…`."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from feedsvc.builddir.manifest import MANIFEST, STATUS, read_build
from feedsvc.builddir.storage import StorageOptions
from feedsvc.config import load_settings
from feedsvc.http.app import IMMUTABLE_CACHE_CONTROL, create_app
from feedsvc.runtime.builder import Builder, start_builder
from feedsvc.runtime.service import start_following
from feedsvc.store import Store
from tests.corpus import write_article
from tests.objectstore import SeaweedFS
from tests.test_archives import INTERVAL, archive_settings, write_history, write_numbered
from tests.test_server import BIN, _etags, _free_port, _get, _running, _wait_for

# Each test talks to a real server the session starts (a few seconds), and some stop and start it.
pytestmark = pytest.mark.slow

PATHS = ["/feeds/all.rss", "/feeds/all.atom", "/feeds/all.json", "/feeds/markets.rss", "/feeds.opml", "/"]
PAGES = ["/feeds/all/archive/1.atom", "/feeds/markets/archive/2.json", "/feeds/all/archive/3.rss"]


@pytest.fixture
def aws(seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch) -> SeaweedFS:
    """The AWS environment variables point at the test store (a builder's config may name the endpoint itself)."""
    for name, value in seaweedfs.environ().items():
        monkeypatch.setenv(name, value)
    return seaweedfs


class Requests:
    """The S3 requests feedsvc's clients send, in order: (operation, key)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.sent.append((model.name, str(params.get("Key", ""))))

    def keys(self, operation: str) -> set[str]:
        """Return the keys of every request of one kind."""
        return {key for name, key in self.sent if name == operation}

    def count(self) -> Counter[str]:
        """Return how many requests of each kind were sent."""
        return Counter(name for name, _ in self.sent)


@contextlib.contextmanager
def recorded() -> Iterator[Requests]:
    """Record every S3 request of the buckets opened in the block (botocore's own events: nothing is faked)."""
    from feedsvc.builddir.bucket import Bucket

    requests = Requests()
    real = Bucket.__init__

    def init(self: Bucket, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        self.client.meta.events.register("before-parameter-build.s3", requests)

    with mock.patch.object(Bucket, "__init__", init):
        yield requests


def build(settings: Any, out: str | Path) -> Builder:
    """Build once, as `feedsvc build --out` does, and stop."""
    builder = start_builder(settings, out, watch=False)
    builder.stop()
    assert builder.written is builder.refresher.store.snapshot
    return builder


def objects(store: SeaweedFS, bucket: str, prefix: str) -> dict[str, bytes]:
    """Return every object under a prefix, by its name in the build."""
    client = store.client()
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            found[entry["Key"][len(prefix) :]] = client.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
    return found


def local_files(out: Path) -> dict[str, bytes]:
    return {str(path.relative_to(out)): path.read_bytes() for path in out.rglob("*") if path.is_file()}


def test_a_build_uploads_the_tree_of_a_directory_build_with_each_objects_headers(
    aws: SeaweedFS, content_dir: Path, tmp_path: Path
) -> None:
    """The bucket holds the files of a directory build, byte for byte, each with its type, Cache-Control, encoding."""
    write_history(content_dir, 130)
    aws.create_bucket("headers")
    settings = archive_settings(content_dir, storage={"endpoint": aws.endpoint, "addressing_style": "path"})
    build(settings, tmp_path / "out")
    os.environ.pop("AWS_ENDPOINT_URL")  # the config file's storage.endpoint alone reaches the store
    with recorded() as requests:
        build(settings, "s3://headers/site/feeds")

    assert requests.count()["ListObjectsV2"] == 0  # compared with the manifest, never by listing the bucket
    stored = objects(aws, "headers", "site/feeds/")
    directory = local_files(tmp_path / "out")
    assert set(stored) == set(directory)
    assert {name: body for name, body in stored.items() if name != STATUS} == {
        name: body for name, body in directory.items() if name != STATUS
    }
    manifest = json.loads(stored[MANIFEST])
    client = aws.client()

    def head(name: str) -> dict[str, Any]:
        return dict(client.head_object(Bucket="headers", Key="site/feeds/" + name))

    for name in ["feeds/all.rss", "feeds/markets.json", "feeds.opml", "index.html", "feed.xsl"]:
        answer = head(name)
        assert answer["ContentType"] == manifest["documents"][name]["type"]
        assert answer["CacheControl"] == f"public, max-age={INTERVAL}"
        assert "ContentEncoding" not in answer
    immutable = {path for path, entry in manifest["archives"].items() if entry["immutable"]}
    assert immutable
    assert set(manifest["archives"]) - immutable
    for path, entry in manifest["archives"].items():
        answer = head(path + ".gz")
        assert (answer["ContentType"], answer["ContentEncoding"]) == (entry["type"], "gzip")
        expected = IMMUTABLE_CACHE_CONTROL if path in immutable else f"public, max-age={INTERVAL}"
        assert answer["CacheControl"] == expected
    assert head(MANIFEST)["CacheControl"] == "no-cache"


def test_a_build_with_nothing_changed_uploads_nothing_and_an_edit_only_its_documents(
    aws: SeaweedFS, content_dir: Path
) -> None:
    """A new build uploads only what changed by ETag; documents no longer built are deleted after the new manifest."""
    write_history(content_dir, 130)
    write_article(content_dir, "solo.md", {"title": "Alone", "date": "2025-03-01T00:00Z", "categories": ["Solo"]})
    aws.create_bucket("incremental")
    settings = archive_settings(content_dir)
    out = "s3://incremental/site"
    build(settings, out)
    client = aws.client()

    def manifest() -> dict[str, Any]:
        return dict(json.loads(client.get_object(Bucket="incremental", Key="site/manifest.json")["Body"].read()))

    with recorded() as requests:
        build(settings, out)
    assert requests.count() == Counter({"GetObject": requests.count()["GetObject"]})  # reads, and nothing else
    assert requests.keys("GetObject") == {"site/manifest.json"}

    before = manifest()
    write_numbered(content_dir, 7, title="An edited title")
    (content_dir / "solo.md").unlink()
    with recorded() as requests:
        build(settings, out)
    after = manifest()

    def files(listed: dict[str, Any]) -> dict[str, str]:
        names = {path: entry["etag"] for path, entry in listed["documents"].items()}
        views = {path: names[entry["of"]] for path, entry in listed.get("views", {}).items()}  # made of its feed
        return names | views | {path + ".gz": entry["etag"] for path, entry in listed["archives"].items()}

    old, new = files(before), files(after)
    changed = {name for name, etag in new.items() if old.get(name) != etag}
    assert changed
    assert len(changed) < len(new) / 2
    assert requests.keys("PutObject") == {"site/" + name for name in changed | {MANIFEST, STATUS}}
    gone = set(old) - set(new)
    assert gone == {
        name
        for fmt in ("rss", "atom", "json")
        for name in (f"feeds/solo.{fmt}", f"feeds/solo.{fmt}.html", f"feeds/solo/archive/1.{fmt}.gz")
    }
    assert requests.keys("DeleteObjects") == {""}
    operations = [name for name, _ in requests.sent]
    manifest_put = requests.sent.index(("PutObject", "site/manifest.json"))
    assert operations.index("DeleteObjects") > manifest_put  # removed only once the new manifest is in place
    assert not any(name.startswith("feeds/solo.") for name in objects(aws, "incremental", "site/"))


def test_two_replicas_answer_the_same_bytes_and_304_each_others_etags(
    aws: SeaweedFS, content_dir: Path, tmp_path: Path
) -> None:
    """Replicas on a bucket answer as `serve --from DIR` does, byte-identical, and each follows a new build."""
    write_history(content_dir, 130)
    aws.create_bucket("replicas")
    config = tmp_path / "feedsvc.yaml"
    config.write_text(
        f"site:\n  feed_url: https://feeds.example.com/\ncontent:\n  dir: {content_dir}\n"
        f"scan:\n  interval_seconds: 1\n  workers: 1\nfeeds:\n  archive_size: 50\n"
        "categories:\n  市场:\n    slug: markets\n  其他:\n    slug: others\n",
        encoding="utf-8",
    )
    build(load_settings(config), tmp_path / "dir")
    reference = create_app(Store(read_build(tmp_path / "dir"))).test_client()
    builder_command = [str(BIN / "feedsvc"), "build", "--config", str(config), "--out", "s3://replicas/site", "--watch"]
    with contextlib.ExitStack() as stack:
        builder = subprocess.Popen(builder_command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(builder.wait, 30)
        stack.callback(builder.send_signal, signal.SIGTERM)
        _wait_for(
            lambda: "Contents" in aws.client().list_objects_v2(Bucket="replicas", Prefix="site/manifest.json"),
            "the first build",
        )
        bases = []
        for _ in range(2):
            port = _free_port()
            command = [str(BIN / "feedsvc"), "serve", "--from", "s3://replicas/site", "--port", str(port)]
            stack.enter_context(_running(command, port))
            bases.append(f"http://127.0.0.1:{port}")
        _wait_for(lambda: all(_get(base + "/feeds/all.rss")[0] == 200 for base in bases), "the replicas to serve")

        first, second = (_etags(base, PATHS + PAGES) for base in bases)
        assert first == second
        for path in PATHS + PAGES:
            expected = reference.get(path)
            status, headers, body = _get(bases[0] + path)
            assert (status, headers["ETag"], body) == (200, expected.headers["ETag"], expected.data), path
            assert headers["Cache-Control"] == expected.headers["Cache-Control"], path
            assert headers["Content-Type"] == expected.headers["Content-Type"], path
            assert _get(bases[1] + path, {"If-None-Match": headers["ETag"]})[0] == 304, path
        gzip = _get(bases[1] + PAGES[0], {"Accept-Encoding": "gzip"})
        assert _get(bases[0] + PAGES[0], {"If-None-Match": gzip[1]["ETag"], "Accept-Encoding": "gzip"})[0] == 304

        write_article(content_dir, "late.md", {"title": "Late breaking news", "date": "2025-09-09T00:00Z"})
        for base in bases:
            _wait_for(lambda base=base: b"Late breaking news" in _get(base + "/feeds/all.rss")[2], "the new build")
        assert _etags(bases[0], PATHS) == _etags(bases[1], PATHS)
        health = json.loads(_get(bases[0] + "/healthz")[2])
        assert (health["status"], health["articles"]) == ("ok", 131)


def test_a_replica_keeps_serving_through_a_store_outage_and_loses_nothing(aws: SeaweedFS, content_dir: Path) -> None:
    """With the store stopped, a replica serves its last build and says degraded; restarted, it follows again."""
    write_history(content_dir, 130)
    aws.create_bucket("outage")
    settings = archive_settings(content_dir)
    build(settings, "s3://outage/site")
    os.environ.pop("AWS_ENDPOINT_URL")  # the replica is told the endpoint as `storage.endpoint` of a config file
    replica = start_following("s3://outage/site", scheduled=False, options=StorageOptions(endpoint=aws.endpoint))
    client = replica.app.test_client()
    before = {path: client.get(path) for path in PATHS + PAGES[:1]}
    assert all(answer.status_code == 200 for answer in before.values())

    aws.stop()
    try:
        replica.follower.check()
        health = client.get("/healthz").get_json()
        assert health["status"] == "degraded"
        assert "s3://outage/site/manifest.json: cannot be read" in health["reason"]
        for path, answer in before.items():
            again = client.get(path)
            assert (again.status_code, again.headers["ETag"], again.data) == (200, answer.headers["ETag"], answer.data)
        assert client.get(PAGES[1]).status_code == 503  # a page never read: the store will have it again
    finally:
        aws.start()

    replica.follower.check()
    assert client.get("/healthz").get_json()["status"] == "ok"
    assert client.get(PAGES[1]).status_code == 200
    write_article(content_dir, "late.md", {"title": "After the outage", "date": "2025-09-09T00:00Z"})
    build(dataclasses.replace(settings, storage_endpoint=aws.endpoint), "s3://outage/site")
    assert replica.follower.check()
    assert b"After the outage" in client.get("/feeds/all.rss").data
    replica.stop()
