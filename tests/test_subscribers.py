"""Subscriber estimates: who polls (real aggregator and reader User-Agents), how they are counted and kept."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from feedsvc.cli import main
from feedsvc.config import load_settings
from feedsvc.errors import ConfigError
from feedsvc.http.app import create_app
from feedsvc.model import Format, Snapshot, make_document
from feedsvc.refresh.refresher import Refresher
from feedsvc.runtime.builder import start_builder
from feedsvc.runtime.service import start_following
from feedsvc.store import Store
from feedsvc.subscribers import sketch
from feedsvc.subscribers.agents import Reader, Report, classify
from feedsvc.subscribers.ledger import SECRET_NAME, Ledger, ledger_name
from feedsvc.subscribers.recorder import Options, Recorder
from feedsvc.subscribers.tally import DAY, client_address, device_of, trusted_networks
from tests.conftest import make_settings
from tests.corpus import write_article, write_corpus

# Aggregators that say how many they poll for, as they send it (forms from their own
# documentation or from publishers' logs, e.g. Buttondown's and Feedbin's pages).
AGGREGATORS = [
    ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 870 subscribers; like FeedFetcher-Google)", "Feedly", 870, ""),
    ("Mozilla/5.0 (compatible; inoreader.com; 114 subscribers)", "Inoreader", 114, ""),
    ("Inoreader/1.0 (+http://www.inoreader.com/feed-fetcher; 195 subscribers; )", "Inoreader", 195, ""),
    (
        "NewsBlur Feed Fetcher - 27 subscribers - https://www.newsblur.com/site/7704055/rendezvous-with-cassidoo "
        '("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.0.1 '
        'Safari/605.1.15")',
        "NewsBlur",
        27,
        "",
    ),
    ("NewsBlur Feed Fetcher - 1 subscriber - http://www.newsblur.com/site/1234/webpage", "NewsBlur", 1, ""),
    ("Feedbin feed-id:1697787 - 102 subscribers", "Feedbin", 102, "1697787"),
    (
        "Mozilla/5.0 (compatible; theoldreader.com; 3 subscribers; feed-id=cead6c3a837650eeefd8fe4a)",
        "The Old Reader",
        3,
        "cead6c3a837650eeefd8fe4a",
    ),
    ("Mozilla/5.0 (compatible; BazQux/2.4; +https://bazqux.com/fetcher; 5 subscribers)", "BazQux", 5, ""),
    ("Bloglovin/1.0 (http://www.bloglovin.com; 1 subscribers)", "Bloglovin", 1, ""),
    (
        "Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; 4 subscribers; feed-id=9048986372668769311)",
        "Google Feedfetcher",
        4,
        "9048986372668769311",
    ),
    ("Overcast/1.0 Podcast Sync (210 subscribers; feed-id=735461; +http://overcast.fm/)", "Overcast", 210, "735461"),
    (
        "Dreamwidth Studios (webmaster@dreamwidth.org; for https://www.dreamwidth.org/users/x_feed/; 2 readers)",
        "Dreamwidth",
        2,
        "",
    ),
    # Netvibes' and Feeder's fetchers begin so; the count is written the way the others write it.
    ("Netvibes (crawler/bot; http://www.netvibes.com; 6 subscribers)", "Netvibes", 6, ""),
    ("Feeder.co/1.0 (+https://feeder.co; 9 subscribers)", "Feeder", 9, ""),
    ("Bloglines/3.1 (http://www.bloglines.com; 154 subscribers)", "Bloglines", 154, ""),
]
# Aggregators that give no count, self-hosted readers, and readers on a person's device: one each.
READERS = [
    ("Feedspot/1.0 (+https://www.feedspot.com/fs/fetcher; like FeedFetcher-Google)", "Feedspot"),
    ("Superfeedr bot/2.0 http://superfeedr.com - Make your feeds realtime: get in touch - feed-id:46271", "Superfeedr"),
    ("FeedFetcher-Google; (+http://www.google.com/feedfetcher.html)", "Google Feedfetcher"),
    ("FreshRSS/1.29.1 (Linux; https://freshrss.org)", "FreshRSS"),
    ("Mozilla/5.0 (compatible; Miniflux/2.2.3; +https://miniflux.app)", "Miniflux"),
    ("Tiny Tiny RSS/24.02 (https://tt-rss.org/)", "Tiny Tiny RSS"),
    ("Miniflux/2.1.0 (+https://miniflux.app)", "Miniflux"),
    ("FreshRSS/1.27.1 (Feed Parser; http://freshrss.org; Allow like Gecko) Build/1", "FreshRSS"),
    ("Akregator/5.22.3; syndication", "Akregator"),
]
# Readers on a person's device.
DIRECT = [
    ("Newsboat/2.36 (Linux x86_64)", "Newsboat"),
    ("NetNewsWire (RSS Reader; https://netnewswire.com/)", "NetNewsWire"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0", "Mozilla"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Mozilla"),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
        "Safari/537.36",
        "Mozilla",
    ),
]
READERS = [*READERS, *DIRECT]
NOT_READERS = [
    None,
    "",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "kube-probe/1.31",
]
NOON = 20_000 * DAY + 12 * 3600  # a moment at noon UTC


@pytest.mark.parametrize(("user_agent", "name", "subscribers", "feed_id"), AGGREGATORS)
def test_aggregators_report_their_subscribers(user_agent: str, name: str, subscribers: int, feed_id: str) -> None:
    """An aggregator's User-Agent gives its name, the subscribers it polls for and its feed id."""
    assert classify(user_agent) == Report(name, subscribers, feed_id)


def test_a_negative_count_is_no_count() -> None:
    """`-5 subscribers` reports nothing: the aggregator is then one reader, as one that gives no count."""
    assert classify("Mozilla/5.0 (compatible; inoreader.com; -5 subscribers)") == Reader("Inoreader")


@pytest.mark.parametrize(("user_agent", "name"), READERS)
def test_readers_are_one_each(user_agent: str, name: str) -> None:
    """A reader, or an aggregator that gives no count, is one reader."""
    assert classify(user_agent) == Reader(name)


@pytest.mark.parametrize("user_agent", NOT_READERS)
def test_crawlers_and_monitors_are_no_one(user_agent: str | None) -> None:
    """No User-Agent, a search crawler or a monitor subscribes for no one."""
    assert classify(user_agent) is None


def test_forwarded_for_only_from_trusted_proxies() -> None:
    """X-Forwarded-For names the client only when the request came from a trusted proxy, read from the right."""
    trusted = trusted_networks(["10.0.0.0/8", "::1"])
    assert client_address("198.51.100.7", "203.0.113.9", trusted) == "198.51.100.7"  # not a proxy: ignored
    assert client_address("10.1.2.3", "203.0.113.9", ()) == "10.1.2.3"  # no proxy trusted
    assert client_address("10.1.2.3", "203.0.113.9", trusted) == "203.0.113.9"
    # What the client wrote itself (the leftmost) is not believed; proxies appended the rest.
    assert client_address("10.1.2.3", "1.2.3.4, 203.0.113.9, 10.9.9.9", trusted) == "203.0.113.9"
    assert client_address("::1", "2001:db8::5", trusted) == "2001:db8::5"


def test_an_ipv6_device_is_its_64_network() -> None:
    """The addresses a device makes up within its IPv6 /64 are one device; IPv4 (mapped or not) is as it is."""
    assert device_of("2001:db8:1:2:aaaa::1") == device_of("2001:db8:1:2:bbbb::7") == "2001:db8:1:2::/64"
    assert device_of("2001:db8:1:3::1") != device_of("2001:db8:1:2::1")
    assert device_of("::ffff:192.0.2.1") == device_of("192.0.2.1") == "192.0.2.1"
    assert device_of("unix-socket") == "unix-socket"


def test_sketch_counts_distinct_hashes() -> None:
    """The sketch counts a few hashes exactly and many within a few percent; merging is a union."""
    small, large, other = sketch.new_sketch(), sketch.new_sketch(), sketch.new_sketch()
    for value in range(1, 21):
        sketch.add(small, value * 0x9E3779B97F4A7C15)
    assert sketch.estimate(small) == 20
    for value in range(50_000):
        digest = hashlib.sha256(b"client %d" % value).digest()  # what client hashes are: uniform 64-bit values
        sketch.add(large if value % 2 else other, int.from_bytes(digest[:8], "big", signed=True))
    sketch.merge(large, other)
    sketch.merge(large, other)
    assert abs(sketch.estimate(large) - 50_000) < 50_000 * 0.05


class Clock:
    """A settable time."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def snapshot() -> Snapshot:
    """Return a snapshot serving the feeds `all` and `finance` in every format."""
    documents = {
        f"feeds/{slug}.{fmt.value}": make_document(f"{slug} {fmt.value}".encode(), fmt.media_type)
        for slug in ("all", "finance")
        for fmt in Format
    }
    return Snapshot(documents=documents, redirects={}, max_age=60)


def app_over(recorder: Recorder) -> Flask:
    """Return the web app over a fixed snapshot, counting with `recorder`."""
    return create_app(Store(snapshot()), recorder)


def poll(app: Flask, path: str, user_agent: str, address: str = "192.0.2.1", forwarded: str | None = None) -> None:
    """Ask for a feed as a client would, and check it was answered."""
    headers = {"User-Agent": user_agent, "Accept-Encoding": "gzip"}
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    response = app.test_client().get(path, headers=headers, environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200


def recorder_in(directory: Path, clock: Clock, **options: object) -> Recorder:
    """Return a started recorder keeping its counts in `directory`."""
    recorder = Recorder(directory / "counts.sqlite3", Options(**options), clock=clock)  # type: ignore[arg-type]
    recorder.start()
    return recorder


def test_estimates_from_real_user_agents(tmp_path: Path) -> None:
    """Aggregators' latest reports plus distinct direct clients make each feed's estimate, formats together."""
    clock = Clock(NOON)
    recorder = recorder_in(tmp_path, clock)
    app = app_over(recorder)
    for fmt in ("rss", "atom"):  # every aggregator reads `all` in two formats: two groups of subscribers
        for user_agent, *_ in AGGREGATORS:
            poll(app, f"/feeds/all.{fmt}", user_agent)
    # Feedly's next poll of all.rss reports one more subscriber: the latest count replaces the one before.
    poll(
        app,
        "/feeds/all.rss",
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 871 subscribers; like FeedFetcher-Google)",
    )
    for number, (user_agent, _) in enumerate(READERS):
        for _ in range(3):  # readers poll again and again: still one each
            poll(app, "/feeds/all.json", user_agent, address=f"198.51.100.{number}")
    poll(app, "/feeds/all.rss", READERS[-1][0], address="198.51.100.200")  # the same browser elsewhere: another
    for user_agent in NOT_READERS[2:]:
        poll(app, "/feeds/all.rss", user_agent or "")
    poll(app, "/feeds/finance.atom", "Newsboat/2.36 (Linux x86_64)")
    recorder.flush()

    counts = recorder.counts
    latest = {(name, feed_id): subscribers for _, name, subscribers, feed_id in AGGREGATORS}  # in polling order
    reported = {name: 0 for name, _ in latest}
    for (name, _), subscribers in latest.items():
        reported[name] += 2 * subscribers  # two formats
    reported["Feedly"] += 1
    assert (reported["Inoreader"], reported["NewsBlur"]) == (2 * 195, 2 * 1)  # each one's latest report
    everyone = counts.feeds["all"]
    assert dict(everyone.aggregators) == reported
    assert everyone.direct == len(READERS) + 1
    assert everyone.total == sum(reported.values()) + len(READERS) + 1
    assert (counts.feeds["finance"].reported, counts.feeds["finance"].direct) == (0, 1)

    stats = app.test_client().get("/stats.json")
    assert stats.headers["Cache-Control"] == "public, max-age=10"
    assert stats.json == counts.report()
    assert stats.json["feeds"]["all"]["aggregators"]["Feedbin"] == 2 * 102
    metrics = text_string_to_metric_families(app.test_client().get("/metrics").get_data(as_text=True))
    gauges = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in metrics
        for sample in family.samples
        if sample.name.startswith("feedsvc_subscribers")
    }
    assert gauges[("feedsvc_subscribers", (("feed", "all"), ("kind", "direct")))] == len(READERS) + 1
    assert gauges[("feedsvc_subscribers", (("feed", "all"), ("kind", "aggregator")))] == sum(reported.values())
    assert gauges[("feedsvc_subscribers_reported", (("aggregator", "Feedly"), ("feed", "all")))] == 2 * 870 + 1
    recorder.stop()


def test_archive_pages_and_other_paths_are_not_polls(tmp_path: Path, content_dir: Path) -> None:
    """Only answered polls of a current feed count: not archive pages, 404s, the index or stats."""
    write_corpus(content_dir, 6)
    store = Store()
    Refresher(make_settings(content_dir, feeds={"archive_size": 2}), store).refresh()
    recorder = recorder_in(tmp_path, Clock(NOON))
    client = create_app(store, recorder).test_client()
    newsboat = {"User-Agent": "Newsboat/2.36"}
    for path in ("/feeds/all/archive/1.rss", "/", "/feeds.opml"):  # answered, from the fast path
        assert client.get(path, headers=newsboat).status_code == 200, path
    assert client.get("/feeds/nothing.rss", headers=newsboat).status_code == 404
    client.get("/stats.json", headers=newsboat)
    recorder.flush()
    assert dict(recorder.counts.feeds) == {}
    assert client.get("/feeds/all.rss", headers=newsboat).status_code == 200  # a poll of the feed itself counts
    recorder.flush()
    assert recorder.counts.feeds["all"].direct == 1
    recorder.stop()


def test_behind_a_proxy_clients_are_told_apart_by_forwarded_for(tmp_path: Path) -> None:
    """Behind a trusted proxy, two clients with one User-Agent are two; from elsewhere the header changes nothing."""
    recorder = recorder_in(tmp_path, Clock(NOON), trusted=trusted_networks(["127.0.0.1"]))
    app = app_over(recorder)
    newsboat = "Newsboat/2.36 (Linux x86_64)"
    poll(app, "/feeds/all.rss", newsboat, address="127.0.0.1", forwarded="203.0.113.1")
    poll(app, "/feeds/all.rss", newsboat, address="127.0.0.1", forwarded="203.0.113.2")
    poll(app, "/feeds/all.rss", newsboat, address="127.0.0.1", forwarded="203.0.113.2")
    # Not from the proxy: a forged header cannot make one client many.
    poll(app, "/feeds/finance.rss", newsboat, address="192.0.2.9", forwarded="203.0.113.3")
    poll(app, "/feeds/finance.rss", newsboat, address="192.0.2.9", forwarded="203.0.113.4")
    recorder.flush()
    assert recorder.counts.feeds["all"].direct == 2
    assert recorder.counts.feeds["finance"].direct == 1
    recorder.stop()


def test_no_address_is_written(tmp_path: Path) -> None:
    """The counts file and its secret hold no client address, in any form, nor a User-Agent."""
    recorder = recorder_in(tmp_path, Clock(NOON), trusted=trusted_networks(["127.0.0.1"]))
    app = app_over(recorder)
    poll(app, "/feeds/all.rss", "Newsboat/2.36 (Linux x86_64)", address="203.0.113.77")
    poll(app, "/feeds/all.rss", "NetNewsWire (RSS Reader; https://netnewswire.com/)", "127.0.0.1", "198.51.100.78")
    recorder.stop()
    assert recorder.counts.feeds["all"].direct == 2
    assert (tmp_path / SECRET_NAME).stat().st_mode & 0o077 == 0
    for path in tmp_path.iterdir():
        data = path.read_bytes()
        for secret in (b"203.0.113.77", b"198.51.100.78", b"Newsboat", b"NetNewsWire", b"\xcb\x00\x71\x4d"):
            assert secret not in data, path


def test_a_day_counts_each_client_once_across_midnight(tmp_path: Path) -> None:
    """The last 24 hours count a client once though the key changed at midnight; a day later it is gone."""
    clock = Clock(20_000 * DAY + 23 * 3600)  # 23:00
    recorder = recorder_in(tmp_path, clock)
    app = app_over(recorder)
    poll(app, "/feeds/all.rss", "Newsboat/2.36", address="192.0.2.1")  # polls before and after midnight
    poll(app, "/feeds/all.rss", "Newsboat/2.36", address="192.0.2.2")  # polls before midnight only
    recorder.flush()
    clock.now += 2 * 3600  # 01:00 the next day
    poll(app, "/feeds/all.rss", "Newsboat/2.36", address="192.0.2.1")
    poll(app, "/feeds/all.rss", "Newsboat/2.36", address="192.0.2.3")  # new today
    recorder.flush()
    assert recorder.counts.feeds["all"].direct == 3
    clock.now += 23 * 3600  # midnight: 192.0.2.2 was seen 25 hours ago
    recorder.flush()
    assert recorder.counts.feeds["all"].direct == 2
    clock.now += 2 * DAY  # nobody polled for two days: nothing is left of them
    recorder.flush()
    assert "all" not in recorder.counts.feeds
    recorder.stop()


def test_reports_expire(tmp_path: Path) -> None:
    """An aggregator that stopped polling stops counting after `stats.report_days`."""
    clock = Clock(NOON)
    recorder = recorder_in(tmp_path, clock, report_days=2)
    app = app_over(recorder)
    poll(app, "/feeds/all.rss", AGGREGATORS[0][0])
    recorder.flush()
    clock.now += DAY
    recorder.flush()
    assert recorder.counts.feeds["all"].reported == 870
    clock.now += 2 * DAY
    recorder.flush()
    assert "all" not in recorder.counts.feeds
    recorder.stop()


def test_processes_of_one_service_count_together_and_a_restart_keeps_counts(tmp_path: Path) -> None:
    """Two worker processes share the counts file: a client of both counts once; a new process reads the counts."""
    clock = Clock(NOON)
    first, second = recorder_in(tmp_path, clock), recorder_in(tmp_path, clock)
    poll(app_over(first), "/feeds/all.rss", "Newsboat/2.36", address="192.0.2.1")
    poll(app_over(second), "/feeds/all.atom", "Newsboat/2.36", address="192.0.2.1")
    poll(app_over(second), "/feeds/all.rss", "NetNewsWire (RSS Reader; https://netnewswire.com/)", address="192.0.2.5")
    poll(app_over(first), "/feeds/all.rss", AGGREGATORS[1][0])
    poll(app_over(second), "/feeds/all.rss", AGGREGATORS[1][0])  # the same report, seen by both: once
    first.flush()
    second.flush()
    first.flush()
    for recorder in (first, second):
        assert (recorder.counts.feeds["all"].direct, recorder.counts.feeds["all"].reported) == (2, 114)
    first.stop()
    second.stop()
    restarted = recorder_in(tmp_path, clock)
    assert restarted.counts.feeds["all"].total == 116
    restarted.stop()


def test_a_flood_of_fake_clients_is_bounded(tmp_path: Path) -> None:
    """Past `stats.max_clients` rows, clients go to a fixed-size sketch: the file stays small, the count close."""
    recorder = recorder_in(tmp_path, Clock(NOON), max_clients=100)
    app = app_over(recorder)
    client = app.test_client()
    for number in range(3000):
        client.get(
            "/feeds/all.rss", headers={"User-Agent": f"Fake/{number}"}, environ_base={"REMOTE_ADDR": "192.0.2.1"}
        )
        if number % 1000 == 999:
            recorder.flush()
    poll(app, "/feeds/all.rss", AGGREGATORS[0][0])
    recorder.flush()
    count = recorder.counts.feeds["all"]
    assert count.estimated
    assert abs(count.direct - 3000) < 3000 * 0.05
    assert count.reported == 870  # an aggregator's report is still kept: the cap is per table
    recorder.stop()
    ledger = Ledger.open(tmp_path / "counts.sqlite3", read_only=True)
    assert ledger._db.execute("SELECT count(*) FROM clients").fetchone() == (100,)
    ledger.close()


def test_a_full_queue_drops_polls_without_waiting(tmp_path: Path) -> None:
    """Polls coming faster than they are counted are dropped past the queue's limit, and counted as dropped."""
    recorder = Recorder(tmp_path / "counts.sqlite3", Options(), clock=Clock(NOON), queue_limit=5)
    app = app_over(recorder)
    for number in range(8):
        poll(app, "/feeds/all.rss", f"Reader/{number}")
    assert recorder.dropped == 3
    assert "feedsvc_subscriber_polls_dropped_total 3.0" in app.test_client().get("/metrics").text
    recorder.flush()
    assert recorder.counts.feeds["all"].direct == 5
    recorder.stop()


def test_replicas_merge_without_counting_aggregators_twice(tmp_path: Path) -> None:
    """`feedsvc stats --file A --file B`: aggregators' latest reports once, direct clients as a union (shared key)."""
    clock = Clock(time.time())  # `feedsvc stats` counts as of now
    one, two = tmp_path / "one", tmp_path / "two"
    first = recorder_in(one, clock)
    poll(app_over(first), "/feeds/all.rss", AGGREGATORS[0][0])
    poll(app_over(first), "/feeds/all.rss", "Newsboat/2.36", address="192.0.2.1")
    first.stop()
    two.mkdir()
    shutil.copy(one / SECRET_NAME, two / SECRET_NAME)  # the replicas share the secret
    clock.now += 60
    second = recorder_in(two, clock)
    poll(app_over(second), "/feeds/all.rss", AGGREGATORS[0][0].replace("870", "872"))
    poll(app_over(second), "/feeds/all.rss", "Newsboat/2.36", address="192.0.2.1")  # the same client
    poll(app_over(second), "/feeds/all.rss", "Newsboat/2.36", address="192.0.2.2")
    second.stop()
    config = tmp_path / "feedsvc.yaml"
    config.write_text(f"content:\n  dir: {tmp_path}\n", encoding="utf-8")
    files = ["--file", str(one / "counts.sqlite3"), "--file", str(two / "counts.sqlite3")]
    result = CliRunner().invoke(main, ["stats", "--config", str(config), "--json", *files])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["feeds"]["all"] == {
        "subscribers": 874,
        "aggregators": {"Feedly": 872},
        "direct": 2,
        "estimated": False,
    }
    table = CliRunner().invoke(main, ["stats", "--config", str(config), *files])
    assert table.output.splitlines() == [
        "feed  subscribers  aggregators  direct",
        "all           874          872       2  Feedly 872",
    ]


def test_stats_reads_the_services_counts_file(tmp_path: Path) -> None:
    """`feedsvc stats --config` reads the counts file in `cache.dir`; without one it says so and exits 1."""
    content = tmp_path / "content"
    content.mkdir()
    config = tmp_path / "feedsvc.yaml"
    config.write_text(f"content:\n  dir: {content}\ncache:\n  dir: {tmp_path / 'state'}\n", encoding="utf-8")
    missing = CliRunner().invoke(main, ["stats", "--config", str(config)])
    assert missing.exit_code == 1
    assert "no subscriber counts yet" in missing.output
    from feedsvc.runtime.counting import open_recorder

    recorder = open_recorder(load_settings(config))
    assert recorder is not None
    recorder.start()
    poll(app_over(recorder), "/feeds/finance.rss", AGGREGATORS[5][0])
    recorder.stop()
    assert recorder.location.parent == tmp_path / "state"
    result = CliRunner().invoke(main, ["stats", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].split() == ["finance", "102", "102", "0", "Feedbin", "102"]


def test_counting_can_be_switched_off(content_dir: Path) -> None:
    """`stats.enabled: false` counts nothing and answers 404 on /stats.json; the index page shows no counts."""
    from feedsvc.feeds.listing import render_index, shows_subscribers
    from feedsvc.runtime.counting import open_recorder

    settings = make_settings(content_dir, stats={"enabled": False})
    assert open_recorder(settings) is None
    assert create_app(Store(snapshot())).test_client().get("/stats.json").status_code == 404
    assert not shows_subscribers(settings)
    assert b"data-feed" not in render_index((), settings)


def test_trusted_proxies_are_checked(content_dir: Path) -> None:
    """A `server.trusted_proxies` entry that is not an address or network is a config error naming the key."""
    assert make_settings(content_dir, server={"trusted_proxies": ["10.0.0.0/8", "::1"]}).trusted_proxies == (
        "10.0.0.0/8",
        "::1/128",
    )
    with pytest.raises(ConfigError, match=r"server\.trusted_proxies"):
        make_settings(content_dir, server={"trusted_proxies": ["proxy.example.com"]})


def test_index_page_shows_counts_from_stats_and_stays_the_same_bytes(content_dir: Path, tmp_path: Path) -> None:
    """The index page has a line per feed filled from stats.json; its bytes do not depend on the counts."""
    write_article(content_dir, "a.md", {"title": "A", "categories": ["金融"], "date": "2026-11-01"})
    bodies = []
    for _ in range(2):
        store = Store()
        Refresher(make_settings(content_dir), store).refresh()
        bodies.append(store.snapshot.documents["index.html"].body)
    assert bodies[0] == bodies[1]
    assert b'data-feed="all"' in bodies[0]
    assert b'fetch("stats.json")' in bodies[0]
    store = Store()
    Refresher(make_settings(content_dir, stats={"index_page": False}), store).refresh()
    assert b"data-feed" not in store.snapshot.documents["index.html"].body


@pytest.mark.slow
def test_real_servers_count_across_workers_and_restarts(tmp_path: Path) -> None:
    """gunicorn's two workers count together over HTTP; `feedsvc serve` then goes on from the same counts file."""
    from tests.test_server import BIN, _free_port, _get, _running, _wait_for

    port = _free_port()
    examples = Path(__file__).resolve().parent.parent / "examples" / "content"
    config = tmp_path / "feedsvc.yaml"
    config.write_text(
        f"site:\n  link: https://www.example.com/\n  feed_url: http://127.0.0.1:{port}/\n"
        f"content:\n  dir: {examples}\ncache:\n  dir: {tmp_path / 'state'}\nstats:\n  flush_seconds: 1\n",
        encoding="utf-8",
    )
    base = f"http://127.0.0.1:{port}"
    expected = {"Feedly": 870, "Inoreader": 114, "Feedbin": 102}
    gunicorn = [str(BIN / "gunicorn"), "-w", "2", "--threads", "4", "-b", f"127.0.0.1:{port}", "feedsvc.wsgi:create()"]
    with _running(gunicorn, port, env={"FEEDSVC_CONFIG": str(config), "FEEDSVC_ACCESS_LOG": "0"}):
        for _ in range(4):  # several requests each, so that both workers are likely to see some
            for user_agent, *_ in (AGGREGATORS[0], AGGREGATORS[1], AGGREGATORS[5]):
                assert _get(f"{base}/feeds/all.rss", {"User-Agent": user_agent})[0] == 200
            for user_agent, _ in DIRECT:  # newsboat, NetNewsWire, Thunderbird, Firefox, Chrome
                assert _get(f"{base}/feeds/all.atom", {"User-Agent": user_agent})[0] == 200

        def counted() -> bool:
            stats = json.loads(_get(f"{base}/stats.json")[2])["feeds"].get("all", {})
            return stats.get("aggregators") == expected and stats.get("direct") == len(DIRECT)

        _wait_for(counted, "both workers' counts in /stats.json")
    command = [str(BIN / "feedsvc"), "serve", "--config", str(config), "--port", str(port), "--no-access-log"]
    with _running(command, port):
        _, _, body = _get(f"{base}/stats.json")
        assert json.loads(body)["feeds"]["all"]["subscribers"] == sum(expected.values()) + len(DIRECT)
        metrics = _get(f"{base}/metrics")[2].decode()
        assert 'feedsvc_subscribers{feed="all",kind="direct"} 5.0' in metrics
    result = CliRunner().invoke(main, ["stats", "--config", str(config)])
    assert result.output.splitlines()[1].split()[:4] == ["all", "1091", "1086", "5"]


def test_an_unusable_state_directory_stops_counting(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """When the counts file cannot be made, one error is logged, feeds keep answering, and the counts stay empty."""
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory", encoding="utf-8")
    recorder = Recorder(blocked / "counts.sqlite3", Options(), clock=Clock(NOON))
    recorder.start()
    app = app_over(recorder)
    poll(app, "/feeds/all.rss", "Newsboat/2.36")
    recorder.flush()
    recorder.stop()
    assert dict(recorder.counts.feeds) == {}
    assert app.test_client().get("/stats.json").json == {"as_of": 0, "feeds": {}}
    errors = [record for record in caplog.records if record.name == "feedsvc.subscribers"]
    assert len(errors) == 1
    assert "polls are not counted until a restart" in errors[0].getMessage()


def test_metrics_hold_the_largest_aggregators_and_the_rest_as_other(tmp_path: Path) -> None:
    """Any User-Agent may name an aggregator: /metrics shows the 20 largest per feed, and the others summed."""
    recorder = recorder_in(tmp_path, Clock(NOON))
    app = app_over(recorder)
    for number in range(25):
        poll(app, "/feeds/all.rss", f"Made-Up-{number:02d}/1.0 ({number + 1} subscribers)")
    recorder.flush()
    text = app.test_client().get("/metrics").get_data(as_text=True)
    reported = [line for line in text.splitlines() if line.startswith("feedsvc_subscribers_reported{")]
    assert len(reported) == 21
    assert 'feedsvc_subscribers_reported{aggregator="other",feed="all"} 15.0' in reported  # 1 + 2 + 3 + 4 + 5
    assert 'feedsvc_subscribers_reported{aggregator="Made-Up-24",feed="all"} 25.0' in reported
    assert recorder.counts.feeds["all"].reported == sum(range(1, 26))
    recorder.stop()


def test_a_replica_counts_as_the_config_file_it_was_given_says(tmp_path: Path, content_dir: Path) -> None:
    """`serve --from DIR --config PATH`: the replica counts in that config's state directory, behind its proxies."""
    (content_dir / "a.md").write_text("---\ntitle: A\ndate: 2026-11-01\n---\nx\n", encoding="utf-8")
    out = tmp_path / "build"
    start_builder(make_settings(content_dir), out, watch=False).stop()
    settings = make_settings(
        content_dir,
        cache={"dir": str(tmp_path / "replica-state")},
        server={"trusted_proxies": ["10.0.0.0/8"]},
        stats={"max_clients": 50},
    )
    replica = start_following(out, settings=settings)
    try:
        recorder = replica.subscribers
        assert recorder is not None
        assert recorder.location.parent == tmp_path / "replica-state"
        assert recorder.options.max_clients == 50
        assert recorder.options.trusted == trusted_networks(["10.0.0.0/8"])
    finally:
        replica.stop()
    default = start_following(out)
    try:
        assert default.subscribers is not None
        assert default.subscribers.location.parent != tmp_path / "replica-state"
    finally:
        default.stop()


def test_a_bucket_replica_names_its_counts_file_after_the_bucket_wherever_it_runs(tmp_path: Path) -> None:
    """`s3://feeds/site` is a URL, not a path under the working directory: every replica names it alike."""
    here = os.getcwd()
    try:
        os.chdir(tmp_path)
        first = ledger_name("s3://feeds/site")
        os.chdir(tmp_path.parent)
        assert ledger_name("s3://feeds/site") == first
    finally:
        os.chdir(here)
    assert ledger_name("s3://feeds/other") != first
