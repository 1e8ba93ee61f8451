"""WebSub: the settings, the hub and self links in every format, and a local hub told exactly which feeds changed.

The hub is an http.server on 127.0.0.1 in a thread of the test: it records each
publish request and answers as the test tells it (204, an error, a redirect, or
not at all until released).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import feedparser
import pytest
import yaml
from lxml import etree

import feedsvc.runtime.builder
from feedsvc.config import Settings, load_settings
from feedsvc.errors import ConfigError
from feedsvc.feeds.render import feed_url
from feedsvc.model import Format, Snapshot, feed_path
from feedsvc.refresh.refresher import Refresher
from feedsvc.runtime.builder import start_builder
from feedsvc.runtime.service import start_service
from feedsvc.runtime.websub import RETRY_DELAYS, STOP_WAIT, ChangedFeeds, HubNotifier, backoff, feed_etags
from feedsvc.store import Store
from tests.conftest import JSON_FEED, make_settings
from tests.corpus import article_text, write_corpus
from tests.test_refresh import write

LOGGER = "feedsvc.websub"
HUB_PATH = "/hub?key=k1"
ATOM = "http://www.w3.org/2005/Atom"
WAIT = 10.0  # longest any test waits for the hub to hear something
HANG_LIMIT = 15.0  # a hanging hub answers after this at the latest, released or not
FAST = (0.05, 0.1, 0.2)  # retry delays short enough for tests


# --- a local hub ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ping:
    """One request the hub received."""

    at: float  # time.monotonic() when it arrived
    method: str
    path: str
    content_type: str
    user_agent: str
    form: dict[str, list[str]]

    @property
    def url(self) -> str:
        """The one hub.url of a publish request."""
        (url,) = self.form["hub.url"]
        return url


@dataclass
class Hub:
    """A hub that records publish requests; `answers` are popped one per request (then 204)."""

    port: int = 0
    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    hang: bool = False  # hold every request until `release` is set
    release: threading.Event = field(default_factory=threading.Event)
    pings: list[Ping] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{HUB_PATH}"

    def urls(self) -> list[str]:
        """The hub.url of every request so far, in order of arrival."""
        with self.arrived:
            return [ping.url for ping in self.pings]

    def wait_for(self, count: int, timeout: float = WAIT) -> list[Ping]:
        """Wait until `count` requests arrived; return them all."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.pings) >= count, timeout):
                raise AssertionError(f"the hub got {len(self.pings)} requests, not {count}: {self.pings}")
            return list(self.pings)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode("ascii")
                ping = Ping(
                    at=time.monotonic(),
                    method=self.command,
                    path=self.path,
                    content_type=self.headers.get("Content-Type", ""),
                    user_agent=self.headers.get("User-Agent", ""),
                    form=urllib.parse.parse_qs(body, keep_blank_values=True),
                )
                with hub.arrived:
                    hub.pings.append(ping)
                    answer = hub.answers.pop(0) if hub.answers else (204, {}, b"")
                    hub.arrived.notify_all()
                if hub.hang:
                    hub.release.wait(HANG_LIMIT)
                status, headers, content = answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@contextlib.contextmanager
def running_hub(port: int = 0, **options: Any) -> Iterator[Hub]:
    """Run a local hub until the block ends."""
    hub = Hub(port=port, **options)
    hub.server = ThreadingHTTPServer(("127.0.0.1", port), hub.handler())
    thread = threading.Thread(target=hub.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        hub.release.set()
        hub.server.shutdown()
        hub.server.server_close()
        thread.join(5)


@contextlib.contextmanager
def notifier(hub: str, **options: Any) -> Iterator[HubNotifier]:
    """A started notifier, stopped when the block ends."""
    started = HubNotifier(hub, **options).start()
    try:
        yield started
    finally:
        started.stop()


@contextlib.contextmanager
def watching(settings: Settings) -> Iterator[tuple[Refresher, ChangedFeeds]]:
    """A refresher whose store tells a ChangedFeeds of each snapshot."""
    store = Store()
    changes = ChangedFeeds(settings)
    store.subscribe(changes)
    try:
        yield Refresher(settings, store), changes
    finally:
        changes.stop()


def hub_settings(content_dir: Path, hub: str, **websub: Any) -> Settings:
    return make_settings(content_dir, scan={"workers": 1}, websub={"hub": hub, **websub})


def edit(path: Path, **fields: Any) -> None:
    """Rewrite an article in one step (a rename), its mtime later, as an editor saving it would."""
    text = path.read_text("utf-8")
    front = {**_front(text), **fields}
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(article_text(front), encoding="utf-8")
    later = path.stat().st_mtime_ns + 10_000_000_000
    os.utime(temporary, ns=(later, later))
    temporary.replace(path)


def _front(text: str) -> dict[str, Any]:
    return dict(yaml.safe_load(text.split("---\n")[1]))


def url_of(settings: Settings, path: str) -> str:
    """The URL of the feed document at `feeds/{slug}.{fmt}`, made with render.feed_url."""
    slug, suffix = path.removeprefix("feeds/").rsplit(".", 1)
    return feed_url(settings, slug, Format(suffix))


def changed_urls(settings: Settings, before: Snapshot, after: Snapshot) -> set[str]:
    """The URLs of the feeds whose ETag changed or that appeared."""
    old = feed_etags(before)
    return {url_of(settings, path) for path, etag in feed_etags(after).items() if old.get(path) != etag}


def settle(notifier: HubNotifier | None, hub: Hub) -> list[str]:
    """Stop a notifier that has nothing waiting, so that no request is under way; return all the hub ever heard.

    stop() waits for the requests under way (a local hub answers at once), so the list is final: a URL queued
    by mistake at any step is in it, without waiting a while to see whether one more request comes.
    """
    assert notifier is not None
    assert notifier.stop() == []
    return hub.urls()


@pytest.fixture
def site(content_dir: Path) -> dict[str, Path]:
    """Four articles in three categories: editing `d` changes `all` and 股票's feeds, not 金融's."""
    return {
        "a": write(content_dir, "a.md", title="A", date="2022-05-01T10:00:00Z", categories=["金融"]),
        "b": write(content_dir, "b.md", title="B", date="2022-05-02T10:00:00Z", categories=["金融"]),
        "c": write(content_dir, "c.md", title="C", date="2022-05-03T10:00:00Z", categories=["要闻"]),
        "d": write(content_dir, "d.md", title="D", date="2022-05-04T10:00:00Z", categories=["股票"]),
    }


# --- settings -------------------------------------------------------------------------------------------------


def refused(data: dict[str, Any]) -> str:
    from feedsvc.config import parse_settings

    with pytest.raises(ConfigError) as caught:
        parse_settings(data, source="site.yaml")
    return str(caught.value)


def test_websub_is_off_by_default_and_the_hub_is_used_as_written(content_dir: Path) -> None:
    """No hub unless configured; a hub URL keeps its path and query as written (no slash is added)."""
    default = make_settings(content_dir)
    assert (default.websub_hub, default.websub_delay_seconds) == ("", 0)
    assert make_settings(content_dir, websub={"hub": None, "delay_seconds": None}).websub_hub == ""
    assert make_settings(content_dir, websub={"hub": ""}).websub_hub == ""
    for url in ("https://hub.example.com/", "https://hub.example.com/hub", "http://127.0.0.1:9/p?key=a&b=c"):
        assert make_settings(content_dir, websub={"hub": url}).websub_hub == url
    assert make_settings(content_dir, websub={"hub": " https://h.example/ "}).websub_hub == "https://h.example/"
    assert make_settings(content_dir, websub={"delay_seconds": 3600}).websub_delay_seconds == 3600


@pytest.mark.parametrize(
    ("data", "key", "reason"),
    [
        (
            {"websub": {"hub": "ftp://hub.example.com/"}},
            "websub.hub",
            "is not a URL (expected an absolute http(s) URL)",
        ),
        ({"websub": {"hub": "hub.example.com"}}, "websub.hub", "is not a URL"),
        ({"websub": {"hub": "https://"}}, "websub.hub", "is not a URL"),
        ({"websub": {"hub": "https://hub example.com/"}}, "websub.hub", "is not a URL"),
        ({"websub": {"hub": 42}}, "websub.hub", "is not a URL"),
        ({"websub": {"hub": True}}, "websub.hub", "is not text"),
        ({"websub": {"hub": ["https://a.example/"]}}, "websub.hub", "is not text"),
        ({"websub": {"hub": "https://hub.example.com/#x"}}, "websub.hub", "has a fragment (expected a hub URL"),
        ({"websub": {"delay_seconds": -1}}, "websub.delay_seconds", "out of range (expected a whole number from 0"),
        ({"websub": {"delay_seconds": 3601}}, "websub.delay_seconds", "out of range"),
        ({"websub": {"delay_seconds": "10"}}, "websub.delay_seconds", "is not a whole number"),
        ({"websub": {"delay_seconds": 1.5}}, "websub.delay_seconds", "is not a whole number"),
        ({"websub": {"retries": 3}}, "websub.retries", "unknown key (expected one of: hub, delay_seconds)"),
        ({"websub": "https://hub.example.com/"}, "websub", "is not a mapping"),
    ],
)
def test_bad_websub_settings_are_refused_naming_the_key(data: dict[str, Any], key: str, reason: str) -> None:
    """Each refusal names the file and the dotted key, and says what was expected."""
    message = refused(data)
    assert message.startswith(f"site.yaml: {key}: "), message
    assert reason in message


# --- links in the feeds ---------------------------------------------------------------------------------------


def render_site(content_dir: Path, **websub: Any) -> tuple[Settings, Snapshot]:
    settings = make_settings(content_dir, scan={"workers": 1}, websub=websub)
    store = Store()
    Refresher(settings, store).refresh()
    return settings, store.snapshot


def test_feeds_link_to_the_hub_and_to_themselves(content_dir: Path, site: dict[str, Path]) -> None:
    """RSS and Atom carry rel=hub next to rel=self; JSON Feed has hubs; feedparser, lxml and the schema agree."""
    hub = "https://hub.example.com/hub?a=1&b=2"
    settings, snapshot = render_site(content_dir, hub=hub)
    for slug in ("all", snapshot.redirects["金融"]):
        rss = snapshot.documents[feed_path(slug, Format.RSS)].body
        atom = snapshot.documents[feed_path(slug, Format.ATOM)].body
        for data, fmt, links in (
            (rss, Format.RSS, etree.fromstring(rss).findall(f"channel/{{{ATOM}}}link")),
            (atom, Format.ATOM, etree.fromstring(atom).findall(f"{{{ATOM}}}link")),
        ):
            rels = [(link.get("rel"), link.get("href")) for link in links]
            assert rels[:2] == [("self", feed_url(settings, slug, fmt)), ("hub", hub)], rels
            parsed = feedparser.parse(data)
            assert not parsed.bozo, parsed.get("bozo_exception")
            found = {(link.get("rel"), link.get("href")) for link in parsed.feed.links}
            assert {("self", feed_url(settings, slug, fmt)), ("hub", hub)} <= found
        document = json.loads(snapshot.documents[feed_path(slug, Format.JSON)].body)
        JSON_FEED.validate(document)
        assert document["hubs"] == [{"type": "WebSub", "url": hub}]
        assert document["feed_url"] == feed_url(settings, slug, Format.JSON)


def test_without_a_hub_feeds_are_the_same_bytes_less_the_hub_link(content_dir: Path, site: dict[str, Path]) -> None:
    """No hub: no rel=hub and no hubs; and the hub adds exactly its link, nothing else changes."""
    _, plain = render_site(content_dir)
    _, with_hub = render_site(content_dir, hub="https://hub.example.com/")
    assert len(feed_etags(plain)) == 12  # all and the three categories, in three formats
    assert sorted(feed_etags(plain)) == sorted(feed_etags(with_hub))
    for path in feed_etags(plain):
        body = plain.documents[path].body
        assert b'rel="hub"' not in body
        assert b'"hubs"' not in body
        hubbed = with_hub.documents[path].body
        if path.endswith(".json"):
            document = json.loads(hubbed)
            del document["hubs"]
            assert (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode() == body
        else:
            line = (
                b'    <atom:link href="https://hub.example.com/" rel="hub"/>\n'  # in <channel>
                if path.endswith(".rss")
                else b'  <link href="https://hub.example.com/" rel="hub"/>\n'
            )
            assert hubbed.count(line) == 1, path
            assert hubbed.replace(line, b"") == body, path


# --- which feeds the hub hears of -----------------------------------------------------------------------------


def test_the_hub_hears_exactly_the_changed_feeds(
    content_dir: Path, site: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """Not at the first refresh; after an edit, each changed feed's URL once, in a form-encoded publish POST."""
    caplog.set_level(logging.WARNING)
    with running_hub() as hub:
        settings = hub_settings(content_dir, hub.url)
        with watching(settings) as (refresher, changes):
            first = refresher.refresh().snapshot
            assert changes.notifier is not None
            assert changes.notifier.pending == []  # and nothing is sent: the hub heard only the edit's feeds, below

            edit(site["d"], title="D, edited")
            second = refresher.refresh().snapshot
            expected = changed_urls(settings, first, second)
            assert expected == {
                feed_url(settings, slug, fmt) for slug in ("all", second.redirects["股票"]) for fmt in Format
            }
            pings = hub.wait_for(len(expected))
            assert sorted(hub.urls()) == sorted(expected)  # each once
            for ping in pings:
                assert (ping.method, ping.path) == ("POST", HUB_PATH)
                assert ping.content_type == "application/x-www-form-urlencoded"
                assert ping.user_agent.startswith("feedsvc/")
                assert sorted(ping.form) == ["hub.mode", "hub.url"]
                assert ping.form["hub.mode"] == ["publish"]

            refresher.refresh()  # nothing changed
            assert sorted(settle(changes.notifier, hub)) == sorted(expected)  # nothing more, at any step
    assert not caplog.records  # the store logs a listener that fails, and goes on


def test_new_feeds_are_told_and_removed_ones_are_not(content_dir: Path, site: dict[str, Path]) -> None:
    """A feed that appears is a change; one that goes away is not told (there is nothing to fetch)."""
    with running_hub() as hub:
        settings = hub_settings(content_dir, hub.url)
        with watching(settings) as (refresher, changes):
            first = refresher.refresh().snapshot
            write(content_dir, "e.md", title="E", date="2022-05-05T10:00:00Z", categories=["基金"])
            second = refresher.refresh().snapshot
            new = second.redirects["基金"]
            expected = {feed_url(settings, slug, fmt) for slug in ("all", new) for fmt in Format}
            assert changed_urls(settings, first, second) == expected
            hub.wait_for(6)
            assert sorted(hub.urls()) == sorted(expected)

            site["d"].unlink()  # 股票 loses its only article: its feeds go
            third = refresher.refresh().snapshot
            assert feed_path(second.redirects["股票"], Format.RSS) not in third.documents
            hub.wait_for(9)
            assert sorted(hub.urls()[6:]) == sorted(feed_url(settings, "all", fmt) for fmt in Format)
            assert len(settle(changes.notifier, hub)) == 9


def test_no_hub_no_notifier(content_dir: Path, site: dict[str, Path]) -> None:
    """Without websub.hub nothing is started or sent, and feeds are still tracked (a reload may add a hub)."""
    settings = make_settings(content_dir, scan={"workers": 1})
    with watching(settings) as (refresher, changes):
        refresher.refresh()
        assert changes.notifier is None
        edit(site["d"], title="D2")
        refresher.refresh()
    assert not any(t.name == "feedsvc-websub" for t in threading.enumerate())


# --- the notifier: queue, retries, back-off, never blocking ---------------------------------------------------


def test_backoff_doubles_up_to_its_cap() -> None:
    """The default schedule: 2 s doubling, at most 60 s, eight retries."""
    assert backoff(1, 10, 6) == (1, 2, 4, 8, 10, 10)
    assert RETRY_DELAYS == (2, 4, 8, 16, 32, 60, 60, 60)


def test_a_url_queued_twice_is_sent_once() -> None:
    """URLs wait coalesced: queued again before they are sent, they are sent once."""
    with running_hub() as hub:
        waiting = HubNotifier(hub.url, retry_delays=FAST)
        urls = [f"http://feeds.example/feeds/{n}.rss" for n in range(5)]
        waiting.publish(urls)
        waiting.publish(urls[:3])
        waiting.publish(reversed(urls))
        assert sorted(waiting.pending) == sorted(urls)
        waiting.start()
        try:
            hub.wait_for(5)
            assert sorted(settle(waiting, hub)) == sorted(urls)
            assert waiting.sent == 5
        finally:
            waiting.stop()


def test_a_failing_hub_is_tried_again_with_growing_waits(caplog: pytest.LogCaptureFixture) -> None:
    """500, 503 with Retry-After, then 204: three requests, each wait at least the back-off; no warning."""
    caplog.set_level(logging.DEBUG, LOGGER)
    answers = [(500, {}, b"busy"), (503, {"Retry-After": "0"}, b""), (204, {}, b"")]
    with running_hub(answers=answers) as hub, notifier(hub.url, retry_delays=FAST) as sender:
        sender.publish(["http://feeds.example/feeds/all.rss"])
        pings = hub.wait_for(3)
        assert [p.url for p in pings] == ["http://feeds.example/feeds/all.rss"] * 3
        assert pings[1].at - pings[0].at >= FAST[0]
        assert pings[2].at - pings[1].at >= FAST[1]
        _wait(lambda: sender.sent == 1)
        assert sender.given_up == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "HTTP 500" in caplog.text
    assert "busy" in caplog.text


def test_a_hub_that_is_down_is_reached_once_it_is_up(caplog: pytest.LogCaptureFixture) -> None:
    """Connection refused is retried: the hub started after the first attempts still hears the URL."""
    caplog.set_level(logging.DEBUG, LOGGER)
    with running_hub() as probe:
        port = probe.server.server_address[1] if probe.server else 0
    with notifier(f"http://127.0.0.1:{port}/", retry_delays=(0.1, 0.2, 0.4, 0.8, 1.6)) as sender:
        sender.publish(["http://feeds.example/feeds/all.atom"])
        _wait(lambda: "attempt 1, trying again" in caplog.text)  # refused while the hub is down
        assert sender.sent == 0
        with running_hub(port=port) as hub:
            hub.wait_for(1)
            _wait(lambda: sender.sent == 1)
            assert hub.urls() == ["http://feeds.example/feeds/all.atom"]


def test_it_gives_up_after_the_last_retry_with_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    """A hub that always fails hears the URL 1 + retries times; one warning then, with the hub's answer."""
    caplog.set_level(logging.INFO, LOGGER)
    url = "http://feeds.example/feeds/all.json"
    with running_hub() as hub:
        hub.answers = [(500, {}, b"hub is\nsad")] * 10
        with notifier(hub.url, retry_delays=FAST) as sender:
            sender.publish([url])
            hub.wait_for(4)
            _wait(lambda: sender.given_up == 1)
            assert settle(sender, hub) == [url] * 4
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1, lines
    assert url in lines[0]
    assert "after 4 attempts" in lines[0]
    assert "HTTP 500" in lines[0]
    assert "hub is sad" in lines[0]


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ((400, {}, b"unknown topic"), "HTTP 400 Bad Request: unknown topic"),
        ((404, {}, b""), "HTTP 404"),
        ((302, {"Location": "https://elsewhere.example/hub"}, b""), "redirected to https://elsewhere.example/hub"),
    ],
)
def test_a_refusal_or_a_redirect_is_not_tried_again(
    answer: tuple[int, dict[str, str], bytes], said: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A 4xx (other than 408/425/429) or a 3xx would come again: one request, one warning naming the answer."""
    caplog.set_level(logging.WARNING, LOGGER)
    with running_hub(answers=[answer] * 3) as hub, notifier(hub.url, retry_delays=FAST) as sender:
        sender.publish(["http://feeds.example/feeds/x.rss"])
        hub.wait_for(1)
        _wait(lambda: sender.given_up == 1)
        assert len(settle(sender, hub)) == 1
    (line,) = [r.getMessage() for r in caplog.records]
    assert said in line
    assert "not tried again" in line


def test_429_is_tried_again() -> None:
    """Too Many Requests is temporary."""
    with running_hub(answers=[(429, {"Retry-After": "0"}, b"")]) as hub, notifier(hub.url, retry_delays=FAST) as s:
        s.publish(["http://feeds.example/feeds/x.rss"])
        hub.wait_for(2)
        _wait(lambda: s.sent == 1)


def test_delay_postpones_and_a_change_during_it_is_sent_again_after_its_own() -> None:
    """With a delay, the hub hears of a change no sooner; a later change while waiting gets a send of its own."""
    with running_hub() as hub, notifier(hub.url, delay=0.4, retry_delays=FAST) as sender:
        url = "http://feeds.example/feeds/all.rss"
        first = time.monotonic()
        sender.publish([url])
        second = time.monotonic()
        sender.publish([url])  # before the first is sent: its own delay ends later
        pings = hub.wait_for(2)
        assert second > first
        assert pings[0].at >= first + 0.4
        assert pings[1].at >= second + 0.4
        assert settle(sender, hub) == [url, url]


@pytest.mark.slow  # stop() waits out its bound for the held request
def test_a_hanging_hub_never_blocks_a_refresh_and_stop_returns_promptly(
    content_dir: Path, site: dict[str, Path]
) -> None:
    """While the hub holds a request, refreshes return at once and stop() returns within its bounded wait."""
    with running_hub(hang=True) as hub:
        settings = hub_settings(content_dir, hub.url)
        store = Store()
        changes = ChangedFeeds(settings)
        store.subscribe(changes)
        refresher = Refresher(settings, store)
        try:
            refresher.refresh()
            edit(site["d"], title="D1")
            refresher.refresh()
            hub.wait_for(1)  # held by the hub from now on
            for title in ("D2", "D3"):
                edit(site["d"], title=title)
                started = time.monotonic()
                refresher.refresh()
                assert time.monotonic() - started < 2.0
            assert changes.notifier is not None
            assert changes.notifier.pending  # waiting behind the held request
            started = time.monotonic()
            changes.stop()
            assert time.monotonic() - started < STOP_WAIT + 1.0
        finally:
            changes.stop()


def test_stop_is_prompt_when_idle_and_drops_what_waits(caplog: pytest.LogCaptureFixture) -> None:
    """An idle notifier stops at once; URLs still waiting (a long delay) are returned and logged, not sent."""
    caplog.set_level(logging.INFO, LOGGER)
    with running_hub() as hub:
        sender = HubNotifier(hub.url, delay=60).start()
        sender.publish(["http://feeds.example/feeds/a.rss", "http://feeds.example/feeds/b.rss"])
        started = time.monotonic()
        left = sender.stop()
        assert time.monotonic() - started < 0.5
        assert sorted(left) == ["http://feeds.example/feeds/a.rss", "http://feeds.example/feeds/b.rss"]
        sender.publish(["http://feeds.example/feeds/c.rss"])  # after stop: ignored
        assert sender.pending == []
        assert hub.urls() == []
    assert "2 feed(s) not yet notified" in caplog.text


# --- wiring: the service (and its reload) and the builder -----------------------------------------------------


def _config(path: Path, content: Path, hub: str) -> Path:
    websub = f"websub:\n  hub: {hub}\n" if hub else ""
    path.write_text(
        f"site:\n  link: https://www.example.com/\n  feed_url: https://feeds.example.com/\n"
        f"content:\n  dir: {content}\nscan:\n  workers: 1\n{websub}",
        encoding="utf-8",
    )
    return path


def test_the_service_notifies_after_refreshes_and_follows_a_reload(
    tmp_path: Path, content_dir: Path, site: dict[str, Path]
) -> None:
    """start_service tells the hub of changed feeds; a reload to another hub tells that one (every feed changed)."""
    with running_hub() as one, running_hub() as two:
        config = _config(tmp_path / "feedsvc.yaml", content_dir, one.url)
        service = start_service(load_settings(config), scheduled=False)
        try:
            assert one.urls() == []
            edit(site["d"], title="D, edited")
            service.refresher.refresh()
            one.wait_for(6)

            kept = service.changes.notifier if service.changes else None
            assert kept is not None
            _config(config, content_dir, two.url)
            assert service.reload(config)
            every = sorted(url_of(service.settings, path) for path in feed_etags(service.store.snapshot))
            two.wait_for(len(every))
            assert sorted(two.urls()) == every  # the hub link is in every feed: each changed
            assert len(settle(kept, one)) == 6  # the reload stopped it: nothing waits, nothing is under way
            assert service.changes is not None
            assert service.changes.notifier is not kept

            second = service.changes.notifier
            _config(config, content_dir, "")
            assert service.reload(config)
            assert service.changes.notifier is None
            assert len(settle(second, two)) == len(every)
        finally:
            service.stop()
        assert service.changes is None


def test_a_reload_that_keeps_the_hub_keeps_its_notifier(
    tmp_path: Path, content_dir: Path, site: dict[str, Path]
) -> None:
    """Another title, the same hub: one notifier throughout, told of every feed the new title changed."""
    with running_hub() as hub:
        config = _config(tmp_path / "feedsvc.yaml", content_dir, hub.url)
        service = start_service(load_settings(config), scheduled=False)
        try:
            assert service.changes is not None
            kept = service.changes.notifier
            config.write_text(config.read_text("utf-8").replace("site:\n", "site:\n  title: Another\n"), "utf-8")
            assert service.reload(config)
            assert service.changes.notifier is kept
            hub.wait_for(len(feed_etags(service.store.snapshot)))
        finally:
            service.stop()


def test_the_builder_tells_the_hub_what_changed_since_the_directory_was_written(
    tmp_path: Path, content_dir: Path, site: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A single build tells nobody; a watching builder compares its first build with the manifest on disk."""
    delay = 0.3  # shorter than the real wait (two polls of a follower), which is not what this pins
    monkeypatch.setattr(feedsvc.runtime.builder, "HUB_DELAY_SECONDS", delay)
    out = tmp_path / "build"
    with running_hub() as hub:
        settings = hub_settings(content_dir, hub.url)
        once = start_builder(settings, out, watch=False)
        once.stop()
        assert once.changes is None
        before = once.written
        assert before is not None

        edit(site["d"], title="D, edited while no builder ran")
        started = time.monotonic()
        builder = start_builder(settings, out, watch=True)
        try:
            assert builder.written is not None
            expected = changed_urls(settings, before, builder.written)
            assert len(expected) == 6
            pings = hub.wait_for(6)
            assert sorted(hub.urls()) == sorted(expected)
            assert min(p.at for p in pings) >= started + delay  # after followers read the build
            for url in expected:  # the files the hub will fetch are written
                path = url.removeprefix(settings.feed_url)
                assert (out / path).read_bytes() == builder.written.documents[path].body
        finally:
            builder.stop()
        assert builder.changes is None


def _wait(check: Any, timeout: float = WAIT) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.02)


# --- the real server ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_serve_tells_the_hub_which_feeds_an_edit_changed(tmp_path: Path, content_dir: Path) -> None:
    """`feedsvc serve` with websub.hub: after an article is edited, the hub hears each changed feed's URL once."""
    from tests.test_server import BIN, _free_port, _get, _running, _wait_for

    paths = write_corpus(content_dir, 6)
    with running_hub() as hub:
        port = _free_port()
        config = tmp_path / "feedsvc.yaml"
        config.write_text(
            "site:\n  link: https://www.example.com/\n"
            f"  feed_url: http://127.0.0.1:{port}/\n"
            f"content:\n  dir: {content_dir}\nscan:\n  interval_seconds: 1\n"
            f"websub:\n  hub: {hub.url}\n",
            encoding="utf-8",
        )
        command = [str(BIN / "feedsvc"), "serve", "--config", str(config), "--port", str(port)]
        with _running(command, port) as process:
            base = f"http://127.0.0.1:{port}"
            opml = etree.fromstring(_get(base + "/feeds.opml")[2])
            urls = sorted({node.get("xmlUrl") for node in opml.iter("outline") if node.get("xmlUrl")})
            assert len(urls) >= 6

            def etags() -> dict[str, str]:
                return {url: _get(url)[1]["ETag"] for url in urls}

            before = etags()
            rss = _get(base + "/feeds/all.rss")[2]
            assert f'<atom:link href="{hub.url.replace("&", "&amp;")}" rel="hub"/>'.encode() in rss
            _wait_for_a_refresh(base)  # with nothing changed
            assert hub.urls() == []

            edit(paths[-1], title="Edited: the newest article")

            def changed() -> set[str]:
                now = etags()
                return {url for url in urls if now[url] != before[url]}

            _wait_for(lambda: bool(changed()) and sorted(hub.urls()) == sorted(changed()), "the hub to hear")
            _wait_for_a_refresh(base)  # and one after it: nothing more to tell
            told = changed()

            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0  # having waited for the requests under way
        assert {f"{base}/feeds/all.{fmt.value}" for fmt in Format} <= set(hub.urls())
        assert sorted(hub.urls()) == sorted(told)  # all the hub ever heard, before the edit and after


def _wait_for_a_refresh(base: str) -> None:
    """Wait until the server has finished a refresh that started after this call."""
    from tests.test_server import _wait_for

    _wait_for(partial(_refreshed_since, base, datetime.now(UTC)), "a refresh")


def _refreshed_since(base: str, mark: datetime) -> bool:
    """Tell whether the server's last refresh started after `mark`."""
    from tests.test_server import _get

    return datetime.fromisoformat(json.loads(_get(base + "/healthz")[2])["last_scan"]["started"]) > mark


# --- Link headers -------------------------------------------------------------------------------------------------


def test_feed_answers_carry_link_headers_to_the_hub_and_themselves(content_dir: Path, tmp_path: Path) -> None:
    """With a hub, every feed answer (200 and 304, fast path or not) has Link rel=hub and rel=self; pages do not."""
    from feedsvc.builddir.manifest import read_build, write_build
    from feedsvc.http.app import create_app

    write_corpus(content_dir, 3)
    settings = hub_settings(content_dir, "https://hub.example.com/publish")
    store = Store()
    Refresher(settings, store).refresh()
    expected = f'<https://hub.example.com/publish>; rel="hub", <{feed_url(settings, "all", Format.RSS)}>; rel="self"'
    client = create_app(store).test_client()
    first = client.get("/feeds/all.rss")
    assert first.headers["Link"] == expected
    again = client.get("/feeds/all.rss", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["Link"] == expected
    assert client.get("/feeds/all.RSS").headers["Link"] == expected  # the Flask route, not the fast path
    assert client.get("/feeds/all.json").headers["Link"].endswith('/feeds/all.json>; rel="self"')
    assert "Link" not in client.get("/").headers
    assert "Link" not in client.get("/feeds.opml").headers

    out = tmp_path / "build"
    write_build(store.snapshot, out)
    served = create_app(Store(read_build(out))).test_client()
    assert served.get("/feeds/all.rss").headers["Link"] == expected  # serve --from: from the manifest

    plain = Store()
    Refresher(make_settings(content_dir), plain).refresh()
    assert "Link" not in create_app(plain).test_client().get("/feeds/all.rss").headers
