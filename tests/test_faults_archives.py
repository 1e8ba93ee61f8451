"""Archive pages are made off the request thread: a slow page answers 503 with Retry-After, never a hang."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedsvc.feeds import render
from feedsvc.feeds.archives import Archives, PageCache, RenderQueue, page_articles, page_count
from feedsvc.model import Document, Format, make_document
from tests.corpus import write_article
from tests.test_archives import (
    HISTORY_PAGES,
    NEW,
    Served,
    archive_settings,
    page_path,
    read_page,
    write_history,
    write_numbered,
)
from tests.test_archives import serve as serve_history
from tests.test_server import BIN, _free_port, _get, _running

GATE_SECONDS = 5.0  # how long a fake slow render waits at most: longer than any wait a request may make
FAST = 0.5  # what "answers at once" means on a loaded test machine


class SlowRenders:
    """A fake slow renderer: an archive page's render starts, then waits until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        self.threads: list[str] = []

    def __call__(self, *args: Any, **kwargs: Any) -> bytes:
        self.threads.append(threading.current_thread().name)
        self.started.set()
        self.gate.wait(timeout=GATE_SECONDS)
        return render.render_feed(*args, **kwargs)


@pytest.fixture
def history(content_dir: Path) -> Served:
    """130 articles, pages of 50: `all` and `markets` have 3 pages, `others` one (as in test_archives)."""
    write_history(content_dir, 130)
    return serve_history(archive_settings(content_dir))


@pytest.fixture
def slow(history: Served, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlowRenders]:
    """Every archive page render of `history` from now on is slow until the gate opens (opened at the end)."""
    renders = SlowRenders()
    monkeypatch.setattr("feedsvc.refresh.rendered.render_feed", renders)
    yield renders
    renders.gate.set()
    wait_until(lambda: history.refresher.renders.pending == 0, "the renders to end")


def wait_until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.01)


def timed(served: Served, path: str, method: str = "GET") -> tuple[Any, float]:
    started = time.monotonic()
    response = served.client.open(path, method=method)
    return response, time.monotonic() - started


def test_a_slow_page_answers_503_then_200_and_other_answers_do_not_wait(history: Served, slow: SlowRenders) -> None:
    """A page not made within the wait answers 503 with Retry-After; other answers do not wait; made, it answers 200."""
    history.refresher.renders.wait = 0.2
    path = page_path("all", 1, Format.RSS)

    busy, took = timed(history, path)
    assert busy.status_code == 503
    assert took < 0.2 + 1.5  # the wait, not the render (which takes GATE_SECONDS)
    assert 1 <= int(busy.headers["Retry-After"]) <= 10
    assert busy.headers["Cache-Control"] == "no-store"
    assert slow.started.wait(GATE_SECONDS)  # the render goes on, in a thread of its own

    for other in ("/healthz", "/feeds/all.rss", "/feeds/markets.atom", "/metrics", "/"):
        answer, took = timed(history, other)
        assert answer.status_code == 200, other
        assert took < FAST, other
    head, _ = timed(history, path, "HEAD")
    assert head.status_code == 503
    assert head.get_data() == b""
    assert not slow.gate.is_set()
    assert history.refresher.pages.rendered == 0

    slow.gate.set()
    wait_until(lambda: history.refresher.renders.pending == 0, "the page to be made")
    ready, took = timed(history, path)
    assert ready.status_code == 200
    assert took < FAST
    document = history.refresher.store.snapshot.archives.document(path[1:])  # type: ignore[union-attr]
    assert document is not None
    assert ready.headers["ETag"] == document.etag
    assert ready.get_data() == document.body
    assert len(read_page(Format.RSS, ready.get_data()).ids) == 50
    assert history.refresher.pages.rendered == 1
    assert slow.threads == ["feedsvc-archive-pages"]  # never a request's thread
    assert 'route="archive",status="503"' in history.get("/metrics").get_data(as_text=True)


def test_a_page_made_within_the_wait_answers_200_at_once(history: Served) -> None:
    """A page made within the wait is answered by the request that asked for it: no 503 for an ordinary page."""
    history.refresher.renders.wait = 10.0
    for path in sorted(HISTORY_PAGES):
        assert history.get(path).status_code == 200, path
    assert history.refresher.pages.rendered == len(HISTORY_PAGES)


def test_a_crawler_queues_a_bounded_number_of_renders_each_page_once(history: Served, slow: SlowRenders) -> None:
    """Every page asked for twice while renders are slow: 503 at once, at most `queue` pages wait, none made twice."""
    renders = history.refresher.renders
    renders.wait = 0.05
    renders.queue = 3
    for _ in range(2):
        for path in sorted(HISTORY_PAGES):
            answer, took = timed(history, path)
            assert answer.status_code == 503, path
            assert took < FAST, path
            assert renders.pending <= renders.queue + 1  # the one being made, and the queue
    assert slow.started.is_set()

    slow.gate.set()
    wait_until(lambda: renders.pending == 0, "the queued pages to be made")
    made = history.refresher.pages.rendered
    assert made == renders.queue + 1
    renders.wait = 10.0
    for path in sorted(HISTORY_PAGES):
        assert history.get(path).status_code == 200, path
    assert history.refresher.pages.rendered == len(HISTORY_PAGES)  # each page once, the first ones included


def test_a_page_whose_render_fails_is_made_again_when_asked_again(
    history: Served, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A render that raises is logged and answers 503 with Retry-After, never a 500; the next request renders it."""
    failures = [RuntimeError("a bug in a renderer")]

    def failing_once(*args: Any, **kwargs: Any) -> bytes:
        if failures:
            raise failures.pop()
        return render.render_feed(*args, **kwargs)

    monkeypatch.setattr("feedsvc.refresh.rendered.render_feed", failing_once)
    history.refresher.renders.wait = 10.0
    path = page_path("markets", 2, Format.ATOM)
    failed = history.get(path)
    assert failed.status_code == 503
    assert failed.headers["Retry-After"]
    assert "its render failed" in caplog.text
    assert history.get(path).status_code == 200
    assert history.refresher.renders.pending == 0


def test_a_page_comes_from_the_snapshot_it_is_asked_of(content_dir: Path, history: Served) -> None:
    """An archive page of a snapshot holds that snapshot's articles, though a later refresh changed the catalog."""
    old = history.refresher.store.snapshot
    write_numbered(content_dir, NEW)
    history.refresher.refresh()
    assert isinstance(old.archives, Archives)
    page = old.archives.document(page_path("all", 3, Format.JSON)[1:])
    assert page is not None
    assert len(read_page(Format.JSON, page.body).ids) == 30  # the new article joined the next snapshot's page
    assert len(read_page(Format.JSON, history.body(page_path("all", 3, Format.JSON))).ids) == 31


def test_the_render_thread_ends_when_idle_and_starts_again() -> None:
    """The render thread ends after its idle time and a later page starts another: a reload leaves no thread behind."""
    threads: list[threading.Thread] = []

    def make(body: bytes) -> Callable[[], Document]:
        def made() -> Document:
            threads.append(threading.current_thread())
            return make_document(body, "text/plain")

        return made

    renders = RenderQueue(PageCache(), idle=0.05)
    assert renders.document("a", make(b"a")).body == b"a"
    threads[0].join(timeout=5)
    assert not threads[0].is_alive()
    assert renders.document("b", make(b"b")).body == b"b"
    assert threads[1] is not threads[0]
    assert renders.document("a", make(b"x")).body == b"a"  # from the cache
    assert len(threads) == 2


@given(st.integers(0, 400), st.integers(1, 60))
def test_the_pages_of_a_snapshots_shelf_hold_each_article_once(total: int, size: int) -> None:
    """For any number of articles and page size, the pages hold each article once, all but the newest one full."""
    shelf = tuple(range(total, 0, -1))  # newest first, as the catalog keeps them
    pages = page_count(total, size)
    read = [page_articles(shelf, number, size) for number in range(pages, 0, -1)]  # type: ignore[arg-type]
    assert tuple(item for page in read for item in page) == shelf
    assert all(len(page) == size for page in read[1:])
    assert 0 < len(read[0]) <= size if read else total == 0
    assert page_articles(shelf, pages + 1, size) == page_articles(shelf, 0, size) == ()  # type: ignore[arg-type]


# --- the real server ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_serve_answers_health_and_feeds_while_a_slow_page_is_made(tmp_path: Path, content_dir: Path) -> None:
    """`feedsvc serve`: while a page with a deeply nested article is made, /healthz and a feed answer within 0.5 s."""
    for number in range(60):  # the oldest is on archive page 1 of `all`, in no current feed
        body = "<div>" * 30_000 if number == 0 else f"<p>Body {number}.</p>"
        fields = {"title": f"Article {number}", "date": f"2025-01-01T{number // 60:02d}:{number % 60:02d}:00Z"}
        write_article(content_dir, f"a{number:02d}.md", fields, body)
    port = _free_port()
    config = tmp_path / "feedsvc.yaml"
    config.write_text(
        f"site:\n  link: https://www.example.com/\n  feed_url: http://127.0.0.1:{port}/\n"
        f"content:\n  dir: {content_dir}\nfeeds:\n  archive_size: 50\n",
        encoding="utf-8",
    )
    base = f"http://127.0.0.1:{port}"
    page = f"{base}/feeds/all/archive/1.rss"
    command = [str(BIN / "feedsvc"), "serve", "--config", str(config), "--port", str(port)]
    with _running(command, port):
        assert _get(f"{base}/feeds/all.rss")[0] == 200
        answers: list[tuple[int, float, str | None, str | None]] = []

        def ask_until_made() -> None:
            while not answers or answers[-1][0] == 503:
                started = time.monotonic()
                status, headers, _ = _get(page)
                answers.append((status, time.monotonic() - started, headers["Retry-After"], headers["ETag"]))
                time.sleep(0.2)

        asker = threading.Thread(target=ask_until_made)
        asker.start()
        latencies: dict[str, list[float]] = {"/healthz": [], "/feeds/all.rss": []}
        while asker.is_alive():
            for path, seen in latencies.items():
                started = time.monotonic()
                assert _get(base + path)[0] == 200
                seen.append(time.monotonic() - started)
            time.sleep(0.02)
        asker.join()

    assert answers[-1][0] == 200
    assert answers[-1][3]  # its ETag
    for status, took, retry_after, _ in answers[:-1]:
        assert status == 503
        assert took < 3.0  # the wait (1 s), never the render
        assert retry_after is not None
        assert int(retry_after) > 0
    for path, seen in latencies.items():
        assert max(seen) < FAST, (path, sorted(seen)[-3:])
