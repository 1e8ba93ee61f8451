"""Faults a build directory, a WebSub hub or a file name could cause: what a build may remove, slow hubs, log lines."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc.builddir.files import remove_unlisted
from feedsvc.builddir.manifest import CLAIM, MANIFEST, BuildError, read_build
from feedsvc.cli import main
from feedsvc.refresh.refresher import Refresher
from feedsvc.runtime import logs
from feedsvc.runtime.builder import start_builder
from feedsvc.runtime.websub import HubNotifier
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
    assert "9 removed" in result.output  # the three feeds of Gone, their views and their three archive pages
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


def test_a_manifest_as_large_as_a_million_articles_make_is_read(tmp_path: Path, content_dir: Path) -> None:
    """A million articles' manifest is about 95 MB (400 bytes an archive page): it is read, and built on again.

    A limit of 64 MiB refused it: `serve --from` could not read the build, and the next build
    took the directory for one that is not a build's.
    """
    write_corpus(content_dir, 2)
    out = tmp_path / "site"
    start_builder(make_settings(content_dir), out, watch=False).stop()
    manifest = (out / MANIFEST).read_bytes()
    large = manifest.rstrip().removesuffix(b"}") + b" " * (96 * 1000 * 1000) + b"}\n"
    (out / MANIFEST).write_bytes(large)

    assert read_build(out).articles == 2
    write_corpus(content_dir, 3)
    start_builder(make_settings(content_dir), out, watch=False).stop()  # not refused as a stranger's directory
    assert read_build(out).articles == 3


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


# --- WebSub: a hub that answers a header line at a time ----------------------------------------------------------

SLOW_URL = "http://feeds.example/feeds/slow.rss"
DEADLINE = 1.0  # the notifier's deadline in these tests
DRIBBLE = 0.25  # seconds between the slow hub's header lines: far less than any per-read timeout


@dataclass
class SlowHub:
    """A hub on 127.0.0.1 that answers publish requests for SLOW_URL one header line at a time, forever.

    Every other URL gets 204 at once. It records when each request arrived and when the
    client gave up on a slow answer (its connection closed under the dribble).
    """

    listener: socket.socket
    arrived: dict[str, float] = field(default_factory=dict)
    cut_off: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    closing: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/hub"

    def serve(self) -> None:
        self.listener.settimeout(0.05)  # closing a listener does not wake an accept() under way
        while not self.closing.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(None)
            threading.Thread(target=self.answer, args=(connection,), daemon=True).start()

    def answer(self, connection: socket.socket) -> None:
        with connection:
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(4096)
            head, body = data.split(b"\r\n\r\n", 1)
            length = int(re.search(rb"Content-Length: (\d+)", head, re.IGNORECASE).group(1))  # type: ignore[union-attr]
            while len(body) < length:
                body += connection.recv(4096)
            (url,) = urllib.parse.parse_qs(body.decode("ascii"))["hub.url"]
            with self.lock:
                self.arrived[url] = time.monotonic()
            if url != SLOW_URL:
                connection.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                return
            try:
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                for line in range(200):
                    if self.closing.wait(DRIBBLE):
                        return
                    connection.sendall(f"X-Line-{line}: still coming\r\n".encode())
                    # A peer that shut its end sends EOF: recv returns b"" instead of waiting.
                    connection.settimeout(0.001)
                    with contextlib.suppress(TimeoutError):
                        if connection.recv(1) == b"":
                            raise ConnectionResetError
                    connection.settimeout(None)
            except OSError:
                with self.lock:
                    self.cut_off[url] = time.monotonic()


@contextlib.contextmanager
def slow_hub() -> Iterator[SlowHub]:
    """Run a slow hub until the block ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    hub = SlowHub(listener)
    thread = threading.Thread(target=hub.serve, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        hub.closing.set()
        listener.close()
        thread.join(5)


def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


@pytest.mark.slow
def test_a_hub_that_dribbles_its_answer_is_cut_off_at_the_deadline(caplog: pytest.LogCaptureFixture) -> None:
    """A hub sending a header line every 0.25 s is cut off at the whole request's deadline, and told as a failure."""
    caplog.set_level(logging.WARNING, "feedsvc.websub")
    with slow_hub() as hub:
        sender = HubNotifier(hub.url, timeout=DEADLINE, retry_delays=()).start()
        try:
            sender.publish([SLOW_URL])
            _until(lambda: sender.given_up == 1)
        finally:
            sender.stop()
        _until(lambda: SLOW_URL in hub.cut_off)
        took = hub.cut_off[SLOW_URL] - hub.arrived[SLOW_URL]
    assert DEADLINE / 2 <= took <= DEADLINE + 1.0  # the deadline runs from before the connection
    assert sender.sent == 0
    assert f"no whole answer within {DEADLINE:g} s" in caplog.text


@pytest.mark.slow
def test_other_feeds_are_told_while_a_request_is_held() -> None:
    """While one request dribbles, the feeds queued after it reach the hub at once, not after the deadline."""
    others = [f"http://feeds.example/feeds/{n}.rss" for n in range(6)]
    with slow_hub() as hub:
        sender = HubNotifier(hub.url, timeout=DEADLINE, retry_delays=()).start()
        try:
            sender.publish([SLOW_URL, *others])
            _until(lambda: sender.sent == len(others))
            with hub.lock:
                assert SLOW_URL not in hub.cut_off  # still held when every other feed had been told
                assert all(hub.arrived[url] - hub.arrived[SLOW_URL] < DEADLINE for url in others)
        finally:
            sender.stop()


@pytest.mark.slow
def test_a_tls_handshake_that_dribbles_is_cut_off_at_the_deadline() -> None:
    """An https hub that sends its handshake a byte at a time is cut off at the deadline too."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def dribble() -> None:
        connection, _ = listener.accept()
        with connection, contextlib.suppress(OSError):
            connection.recv(4096)  # the ClientHello
            connection.sendall(b"\x16\x03\x03\x40\x00")  # a handshake record of 16 KB, then a byte at a time
            while not stop.wait(DRIBBLE):
                connection.sendall(b"\x00")

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    sender = HubNotifier(f"https://127.0.0.1:{listener.getsockname()[1]}/", timeout=DEADLINE, retry_delays=())
    started = time.monotonic()
    try:
        sender.start().publish([SLOW_URL])
        _until(lambda: sender.given_up == 1)
        assert time.monotonic() - started <= DEADLINE + 1.0
    finally:
        sender.stop()
        stop.set()
        listener.close()
        thread.join(5)


def test_a_first_build_stopped_before_its_manifest_can_be_run_again(tmp_path: Path, content_dir: Path) -> None:
    """A first build killed before its manifest leaves its claim: the next build goes on without --force."""
    write_corpus(content_dir, 2)
    out = tmp_path / "site"
    settings = make_settings(content_dir)
    with (
        mock.patch("feedsvc.builddir.manifest.manifest_of", side_effect=RuntimeError("killed")),
        pytest.raises(RuntimeError),
    ):
        start_builder(settings, out, watch=False)  # the documents are written, not the manifest
    assert not (out / MANIFEST).exists()
    assert (out / "index.html").is_file()

    start_builder(settings, out, watch=False).stop()

    assert (out / MANIFEST).is_file()
    assert not (out / CLAIM).exists()
