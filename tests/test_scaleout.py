"""Builder and servers apart, as processes: `build --watch`, `serve --from`, gunicorn workers over one build."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.corpus import write_article, write_corpus
from tests.test_server import BIN, _etags, _free_port, _get, _running, _wait_for

pytestmark = pytest.mark.slow

PATHS = ["/feeds/all.rss", "/feeds/all.atom", "/feeds/all.json", "/feeds.opml", "/"]
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def _views(base: str) -> dict[str, tuple[str, str, bytes]]:
    """Return what a browser gets at each feed URL: its type, ETag and bytes (the feed's HTML view)."""
    answers = {path: _get(base + path, BROWSER) for path in PATHS[:3]}
    return {path: (headers["Content-Type"], headers["ETag"], body) for path, (_, headers, body) in answers.items()}


def _config(tmp_path: Path, content: Path) -> Path:
    """A config whose feeds name one public address, whichever process serves them."""
    path = tmp_path / "feedsvc.yaml"
    path.write_text(
        "site:\n  link: https://www.example.com/\n  feed_url: https://feeds.example.com/\n"
        f"content:\n  dir: {content}\nscan:\n  interval_seconds: 1\n",
        encoding="utf-8",
    )
    return path


@contextlib.contextmanager
def _builder(config: Path, out: Path) -> Iterator[subprocess.Popen[bytes]]:
    with tempfile.TemporaryFile() as log:
        command = [str(BIN / "feedsvc"), "build", "--config", str(config), "--out", str(out), "--watch"]
        process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        try:
            _wait_for((out / "manifest.json").is_file, "the first build")
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_a_builder_feeds_a_server_that_reads_no_content(tmp_path: Path, content_dir: Path) -> None:
    """`serve --from` answers what `serve` answers (same bytes, same ETags), and follows each new build."""
    write_corpus(content_dir, 8)
    config = _config(tmp_path, content_dir)
    out = tmp_path / "build"
    port = _free_port()
    with _running([str(BIN / "feedsvc"), "serve", "--config", str(config), "--port", str(port)], port):
        reference = _etags(f"http://127.0.0.1:{port}", PATHS)
        views = _views(f"http://127.0.0.1:{port}")
    assert {kind for kind, _, _ in views.values()} == {"text/html; charset=utf-8"}

    with _builder(config, out) as builder:
        port = _free_port()
        command = [str(BIN / "feedsvc"), "serve", "--from", str(out), "--port", str(port)]
        with _running(command, port) as server:
            base = f"http://127.0.0.1:{port}"
            assert _etags(base, PATHS) == reference
            assert _views(base) == views
            assert {path: (out / f"{path[1:]}.html").read_bytes() for path in views} == {
                path: body for path, (_, _, body) in views.items()
            }
            health = json.loads(_get(base + "/healthz")[2])
            assert (health["status"], health["articles"]) == ("ok", 8)

            write_article(content_dir, "late/news.md", {"title": "Late breaking news", "date": "2025-05-05T00:00Z"})
            _wait_for(lambda: b"Late breaking news" in _get(base + "/feeds/all.rss")[2], "the new build to be served")
            assert json.loads(_get(base + "/healthz")[2])["articles"] == 9

            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=15) == 0
        builder.send_signal(signal.SIGTERM)
        assert builder.wait(timeout=30) == 0


@pytest.mark.skipif(shutil.which("gunicorn", path=str(BIN)) is None, reason="gunicorn is not installed")
def test_gunicorn_workers_serve_one_build(tmp_path: Path, content_dir: Path) -> None:
    """Several gunicorn workers with FEEDSVC_FROM serve the build byte-identically; none reads content."""
    write_corpus(content_dir, 6)
    config = _config(tmp_path, content_dir)
    out = tmp_path / "build"
    subprocess.run([str(BIN / "feedsvc"), "build", "--config", str(config), "--out", str(out)], check=True)
    files = {path: (out / path.lstrip("/")).read_bytes() for path in PATHS[:4]}
    content_dir.rename(tmp_path / "gone")  # the workers must not need it

    port = _free_port()
    command = [str(BIN / "gunicorn"), "-w", "3", "-b", f"127.0.0.1:{port}", "feedsvc.wsgi:create()"]
    with _running(command, port, env={"FEEDSVC_FROM": str(out)}) as process:
        base = f"http://127.0.0.1:{port}"
        seen = set()
        for _ in range(9):
            answers = _etags(base, PATHS[:4])
            assert {path: body for path, (_, body) in answers.items()} == files
            assert {path: body for path, (_, _, body) in _views(base).items()} == {
                path: (out / f"{path[1:]}.html").read_bytes() for path in PATHS[:3]
            }
            seen.add(tuple(etag for etag, _ in answers.values()))
        assert len(seen) == 1
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
