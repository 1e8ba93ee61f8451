"""Real clients read the feeds: feedparser, the `reader` library against `feedsvc serve`, and npm's rss-parser.

feedparser runs in-process over rendered feeds. `reader` (lemon24) and rss-parser fetch
from a real `feedsvc serve` over HTTP on 127.0.0.1, started as in tests/test_server.py.
The rss-parser tier installs rss-parser with npm into a temporary folder; it skips when
node or npm is missing or the install fails (it is the only test that needs a network:
the npm registry).
"""

from __future__ import annotations

import calendar
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser  # type: ignore[import-untyped]
import pytest
import yaml
from reader import make_reader
from reader.types import UpdatedFeed, UpdateResult

from feedsvc.model import Format
from tests.corpus import article_text, write_article, write_corpus
from tests.test_render import (
    A_LINK,
    A_PUBLISHED,
    A_UPDATED,
    B_LINK,
    B_PUBLISHED,
    C_LINK,
    C_PUBLISHED,
    CATEGORIES,
    body,
    build,
    read_feed,
    read_json,
    write_sample,
)
from tests.test_server import BIN, _config, _free_port, _get, _running, _wait_for

RSS_PARSER = "rss-parser@3.13.0"
TIMEOUT = 60.0


def instant(parsed: Any) -> datetime:
    """Turn a feedparser struct_time (UTC) into an aware datetime."""
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC)


# --- feedparser -------------------------------------------------------------------------------------


EXPECTED_ENTRIES: list[dict[str, Any]] = [
    {
        "title": "Article A",
        "link": A_LINK,
        "id": {},
        "published": A_PUBLISHED,
        "author": "Ann",
        "tags": ["金融", "要闻", "t1"],
        "summary": "Body of A with a relative link",
        "content": '<a href="https://www.example.com/rel/page"',
        "image": ("https://img.example.com/a.png", "image/png"),
    },
    {
        "title": "Article C",
        "link": C_LINK,
        "id": {},
        "published": C_PUBLISHED,
        "author": None,  # Atom: the feed's author stands for it; RSS: dc:creator names the site author
        "tags": ["要闻", "single"],
        "summary": "Plain Markdown body of C.",
        "content": "<p>Plain <em>Markdown</em> body of C.</p>",
        "image": ("https://img.example.com/c.webp", "image/webp"),
    },
    {
        "title": "Article B",
        "link": B_LINK,
        "id": {Format.RSS: "b-id", Format.ATOM: "tag:www.example.com,2000:b-id"},
        "published": B_PUBLISHED,
        "author": "Bob",
        "tags": ["金融"],
        "summary": "Text of B and",
        "content": '<img src="https://img.example.com/second.jpg"',
        "image": (B_LINK + "img/b.gif", "image/gif"),
    },
]


@pytest.mark.parametrize("fmt", [Format.RSS, Format.ATOM])
def test_feedparser_finds_every_field_where_readers_look(content_dir: Path, fmt: Format) -> None:
    """feedparser reads the feed's title, links, language and date, and each entry's every field, in RSS and Atom."""
    write_sample(content_dir)
    snapshot = build(content_dir, categories=CATEGORIES, cache={"enabled": False})
    parsed = read_feed(body(snapshot, "all", fmt))
    feed = parsed.feed
    self_url = f"http://127.0.0.1:8080/feeds/all.{fmt.value}"
    assert (feed.title, feed.link, feed.language, feed.generator) == (
        "测试站",
        "https://www.example.com/",
        "en",
        "feedsvc",
    )
    assert [link.href for link in feed.links if link.rel == "self"] == [self_url]
    assert instant(feed.updated_parsed) == A_UPDATED
    if fmt is Format.ATOM:
        assert (feed.id, feed.author) == (self_url, "编辑部")
    assert len(parsed.entries) == len(EXPECTED_ENTRIES)
    for entry, expected in zip(parsed.entries, EXPECTED_ENTRIES, strict=True):
        assert (entry.title, entry.link) == (expected["title"], expected["link"])
        assert instant(entry.published_parsed) == expected["published"]
        assert entry.id == expected["id"].get(fmt, expected["link"])
        author = expected["author"] or ("编辑部" if fmt is Format.RSS else None)
        assert entry.get("author_detail", {}).get("name") == author
        assert [tag.term for tag in entry.tags] == expected["tags"]
        assert entry.summary == expected["summary"]
        (content,) = entry.content
        assert content.type == "text/html"
        assert expected["content"] in content.value
        href, media_type = expected["image"]
        assert [(e.href, e.type, e.length) for e in entry.enclosures] == [(href, media_type, "0")]
        assert [t["url"] for t in entry.media_thumbnail] == [href]
    a, c, _b = parsed.entries
    if fmt is Format.ATOM:  # RSS items have no date of update
        assert [instant(a.updated_parsed), instant(c.updated_parsed)] == [A_UPDATED, C_PUBLISHED]
    assert a.author_detail.email == "ann@example.com"


LITERAL_MARKUP_BODY = "<p>Use &lt;b&gt;bold&lt;/b&gt; and &lt;script&gt;go()&lt;/script&gt;: 1 &lt; 2 &amp;amp; 3.</p>"
LITERAL_MARKUP_TEXT = "Use <b>bold</b> and <script>go()</script>: 1 < 2 &amp; 3."


def test_a_summary_that_shows_markup_as_text_reads_the_same_in_atom_and_json(content_dir: Path) -> None:
    """An article that writes about <b> and <script> has that text as its summary in Atom and JSON Feed."""
    write_article(content_dir, "markup.md", {"title": "Tags", "date": "2025-01-01"}, LITERAL_MARKUP_BODY)
    snapshot = build(content_dir, cache={"enabled": False})
    (atom,) = read_feed(body(snapshot, "all", Format.ATOM)).entries
    assert (atom.summary, atom.summary_detail.type) == (LITERAL_MARKUP_TEXT, "text/plain")
    (item,) = read_json(body(snapshot, "all", Format.JSON))["items"]
    assert item["summary"] == LITERAL_MARKUP_TEXT


def test_rss_description_reads_as_the_summary_text(content_dir: Path) -> None:
    """The RSS description shows a reader the same summary text as Atom and JSON Feed, markup-looking text included."""
    write_article(content_dir, "markup.md", {"title": "Tags", "date": "2025-01-01"}, LITERAL_MARKUP_BODY)
    snapshot = build(content_dir, cache={"enabled": False})
    (rss,) = read_feed(body(snapshot, "all", Format.RSS)).entries
    assert rss.summary_detail.type == "text/html"  # what feedparser and other readers take RSS descriptions for
    assert rss.summary == LITERAL_MARKUP_TEXT.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- a running feedsvc ---------------------------------------------------------------------------------


@contextlib.contextmanager
def serving(tmp_path: Path, content: Path, *, archive_size: int | None = None) -> Iterator[str]:
    """Run `feedsvc serve` over a content directory (in its own session, killed at the end); yield its base URL."""
    port = _free_port()
    config = _config(tmp_path, content, port)
    if archive_size is not None:
        config.write_text(config.read_text(encoding="utf-8") + f"feeds:\n  archive_size: {archive_size}\n")
    command = [str(BIN / "feedsvc"), "serve", "--config", str(config), "--port", str(port)]
    with _running(command, port):
        yield f"http://127.0.0.1:{port}"


def fetch(url: str) -> bytes:
    """GET a URL that must answer 200."""
    status, _headers, data = _get(url)
    assert status == 200, url
    return data


def feed_answers(base: str, route: str = "feed") -> dict[tuple[str, str], int]:
    """Read the server's /metrics: how many feed (or archive page) requests it answered, by (format, status)."""
    counts: dict[tuple[str, str], int] = {}
    for line in fetch(base + "/metrics").decode().splitlines():
        if not line.startswith("feedsvc_http_requests_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
        if labels.get("route") == route:
            counts[labels["format"], labels["status"]] = int(float(line.rsplit(" ", 1)[1]))
    return counts


def updated(results: list[UpdateResult]) -> dict[str, UpdatedFeed | None]:
    """Map each feed URL to what its update did; an error fails the test."""
    for result in results:
        assert result.error is None, (result.url, result.error)
    return {result.url: result.updated_feed for result in results}


def thumbnail_of(link: str) -> str | None:
    """The image tests.corpus gives an article, from the number in its link (every tenth has none)."""
    match = re.search(r"article-(\d+)/$", link)
    assert match is not None, link
    number = int(match.group(1))
    return f"https://img.example.com/{number}.jpg" if number % 10 else None


@pytest.mark.slow
def test_reader_second_update_of_an_unchanged_feed_is_304_and_stores_nothing(tmp_path: Path, content_dir: Path) -> None:
    """reader stores every entry of RSS, Atom and JSON Feed once; updated again, the server answers 304 to each."""
    write_corpus(content_dir, 12)
    with serving(tmp_path, content_dir) as base, closing(make_reader(str(tmp_path / "reader.sqlite"))) as reader:
        urls = [f"{base}/feeds/all.{fmt.value}" for fmt in Format]
        for url in urls:
            reader.add_feed(url)
        first = updated(list(reader.update_feeds_iter(scheduled=False)))
        assert {url: (u.new, u.modified) for url, u in first.items() if u} == dict.fromkeys(urls, (12, 0))
        assert reader.get_entry_counts().total == 36
        seen = {url: {e.id: e for e in reader.get_entries(feed=url)} for url in urls}
        rss, *others = seen.values()
        for entries in others:  # every format gives reader the same articles, ids, titles, links, dates and authors
            assert entries.keys() == rss.keys()
            for identity, entry in entries.items():
                expected = rss[identity]
                assert (entry.title, entry.link, entry.published) == (expected.title, expected.link, expected.published)
                assert [a.name for a in entry.authors] == [a.name for a in expected.authors]
                assert entry.summary == expected.summary
        before = feed_answers(base)
        assert {before.get((fmt.value, "200")) for fmt in Format} == {1}

        second = updated(list(reader.update_feeds_iter(scheduled=False)))
        assert second == dict.fromkeys(urls)  # None: "the server indicated the feed has not changed"
        after = feed_answers(base)
        assert {fmt.value: after.get((fmt.value, "304")) for fmt in Format} == {fmt.value: 1 for fmt in Format}
        assert {after.get((fmt.value, "200")) for fmt in Format} == {1}
        assert reader.get_entry_counts().total == 36
        for feed in reader.get_feeds():
            assert feed.last_exception is None
            assert (feed.title, feed.link) == ("feedsvc", "https://www.example.com/")


@pytest.mark.slow
def test_reader_subscribes_to_an_author_feed(tmp_path: Path, content_dir: Path) -> None:
    """reader reads an author's feed in every format, the author's articles only, then gets 304 for each."""
    paths = write_corpus(content_dir, 12)
    mine = sorted(p for p in paths if front_matter(p)["author"] == "中国证券报")
    assert len(mine) >= 2
    with serving(tmp_path, content_dir) as base, closing(make_reader(str(tmp_path / "reader.sqlite"))) as reader:
        urls = [f"{base}/feeds/authors/zhong-guo-zheng-quan-bao.{fmt.value}" for fmt in Format]
        for url in urls:
            reader.add_feed(url)
        first = updated(list(reader.update_feeds_iter(scheduled=False)))
        assert {url: u.new for url, u in first.items() if u} == dict.fromkeys(urls, len(mine))
        titles = {front_matter(p)["title"] for p in mine}
        for url in urls:
            assert {e.title for e in reader.get_entries(feed=url)} == titles
        second = updated(list(reader.update_feeds_iter(scheduled=False)))
        assert second == dict.fromkeys(urls)  # 304: not changed
        for feed in reader.get_feeds():
            assert feed.last_exception is None
            assert feed.title == "feedsvc - 中国证券报"


def front_matter(path: Path) -> dict[str, Any]:
    """The front matter of an article tests.corpus wrote."""
    fields: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8").split("---\n")[1])
    return fields


@pytest.mark.slow
def test_reader_updates_an_edited_article_in_place_and_keeps_a_deleted_one(tmp_path: Path, content_dir: Path) -> None:
    """An edited article is the same entry in reader with its new title; a deleted one leaves the feed, not reader."""
    paths = write_corpus(content_dir, 6)
    edited, deleted = paths[3], paths[4]
    with serving(tmp_path, content_dir) as base, closing(make_reader(str(tmp_path / "reader.sqlite"))) as reader:
        urls = [f"{base}/feeds/all.{fmt.value}" for fmt in Format]
        for url in urls:
            reader.add_feed(url)
        updated(list(reader.update_feeds_iter(scheduled=False)))
        ids = {url: {e.id for e in reader.get_entries(feed=url)} for url in urls}
        assert {url: len(found) for url, found in ids.items()} == dict.fromkeys(urls, 6)

        fields = front_matter(edited)
        old_title = fields["title"]
        edited.write_text(article_text({**fields, "title": "Edited title"}, "<p>New body.</p>"), encoding="utf-8")
        _wait_for(lambda: all(b"Edited title" in fetch(url) for url in urls), "the edit to be served")
        after_edit = updated(list(reader.update_feeds_iter(scheduled=False)))
        assert {url: (u.new, u.modified) for url, u in after_edit.items() if u} == dict.fromkeys(urls, (0, 1))
        for url in urls:
            entries = list(reader.get_entries(feed=url))
            assert {e.id for e in entries} == ids[url]  # updated in place: no new id, nothing twice
            assert [e.title for e in entries].count(old_title) == 0
            (entry,) = [e for e in entries if e.title == "Edited title"]
            content = entry.get_content(prefer_summary=False)
            assert content is not None
            assert "New body." in content.value

        gone = front_matter(deleted)["title"]
        deleted.unlink()
        _wait_for(lambda: not any(gone.encode() in fetch(url) for url in urls), "the deleted article to leave")
        after_delete = updated(list(reader.update_feeds_iter(scheduled=False)))
        assert {url: (u.new, u.modified) for url, u in after_delete.items() if u} == dict.fromkeys(urls, (0, 0))
        for url in urls:
            assert {e.id for e in reader.get_entries(feed=url)} == ids[url]  # reader keeps what it has seen
        for fmt in (Format.RSS, Format.ATOM):
            titles = [e.title for e in read_feed(fetch(f"{base}/feeds/all.{fmt.value}")).entries]
            assert len(titles) == 5
            assert gone not in titles
        assert len(read_json(fetch(f"{base}/feeds/all.json"))["items"]) == 5


@pytest.mark.slow
def test_reader_finds_each_thumbnail_as_an_enclosure(tmp_path: Path, content_dir: Path) -> None:
    """reader lists an article's image as the enclosure of its RSS and Atom entries, and none when it has none."""
    write_corpus(content_dir, 12)
    with serving(tmp_path, content_dir) as base, closing(make_reader(str(tmp_path / "reader.sqlite"))) as reader:
        urls = [f"{base}/feeds/all.{fmt.value}" for fmt in (Format.RSS, Format.ATOM)]
        for url in urls:
            reader.add_feed(url)
        updated(list(reader.update_feeds_iter(scheduled=False)))
        entries = list(reader.get_entries())
        assert len(entries) == 24
        for entry in entries:
            assert entry.link is not None
            image = thumbnail_of(entry.link)
            expected = [] if image is None else [(image, "image/jpeg")]
            assert [(e.href, e.type) for e in entry.enclosures] == expected, (entry.feed_url, entry.link)
        assert reader.get_entry_counts().has_enclosures == 20


def older_page(parsed: Any) -> str | None:
    """The URL of the previous archive page (RFC 5005 prev-archive) that feedparser found, if any."""
    links = [link["href"] for link in parsed.feed.get("links", []) if link.get("rel") == "prev-archive"]
    assert len(links) <= 1
    return links[0] if links else None


@pytest.mark.slow
def test_feedparser_fetches_the_complete_history_over_http(tmp_path: Path, content_dir: Path) -> None:
    """feedparser, fetching from `feedsvc serve`, follows prev-archive to the first page: every article once.

    Then asked again with the ETag it was given, an archive page answers 304.
    """
    write_corpus(content_dir, 23)
    with serving(tmp_path, content_dir, archive_size=5) as base:
        for fmt in (Format.RSS, Format.ATOM):
            url: str | None = f"{base}/feeds/all.{fmt.value}"
            current = feedparser.parse(url)
            assert not current.bozo
            assert current.status == 200
            assert len(current.entries) == 20  # feeds.limit
            seen: list[str] = []
            pages = []
            url = older_page(current)
            while url is not None:
                page = feedparser.parse(url)
                assert not page.bozo, url
                assert page.status == 200, url
                pages.append((url, page))
                seen += [entry.id for entry in page.entries]
                url = older_page(page)
            assert [len(page.entries) for _url, page in pages] == [3, 5, 5, 5, 5]  # newest page first
            assert len(seen) == len(set(seen)) == 23
            assert set(seen) >= {entry.id for entry in current.entries}
            complete_url, complete = pages[1]
            again = feedparser.parse(complete_url, etag=complete.etag)
            assert again.status == 304
        # JSON Feed: next_url from the feed, then from each page.
        items: list[str] = []
        next_url = read_json(fetch(f"{base}/feeds/all.json")).get("next_url")
        while next_url:
            document = read_json(fetch(next_url))
            items += [item["id"] for item in document["items"]]
            next_url = document.get("next_url")
        assert len(items) == len(set(items)) == 23
        answered = feed_answers(base, route="archive")
    assert answered[("rss", "200")] == answered[("atom", "200")] == 5
    assert answered[("atom", "304")] + answered[("rss", "304")] == 2
    assert answered[("json", "200")] == 5


# --- npm's rss-parser -------------------------------------------------------------------------------------

RSS_PARSER_SCRIPT = r"""
const Parser = require("rss-parser");
const parser = new Parser({timeout: 10000, customFields: {item: [["media:thumbnail", "thumbnail"]]}});
(async () => {
  const out = {};
  for (const url of process.argv.slice(2)) {
    const feed = await parser.parseURL(url);
    out[url] = {
      title: feed.title, link: feed.link, feedUrl: feed.feedUrl || null,
      items: feed.items.map((i) => ({
        title: i.title, link: i.link, guid: i.guid || null, id: i.id || null, isoDate: i.isoDate,
        creator: i.creator || null, author: i.author || null, categories: i.categories || null,
        enclosure: i.enclosure || null, thumbnail: i.thumbnail ? i.thumbnail.$.url : null,
        summary: i.summary || null, content: i.content || null, encoded: i["content:encoded"] || null,
      })),
    };
  }
  process.stdout.write(JSON.stringify(out));
})().catch((error) => { console.error(String(error)); process.exit(1); });
"""


def _run(command: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str, str]:
    """Run a command in its own session; kill its whole group if it outlives the timeout."""
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, text=True
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        out, err = "", f"timed out after {timeout:.0f} s"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    return process.returncode, out, err


@pytest.fixture(scope="session")
def rss_parser(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """node, and a folder where npm installed rss-parser and the script that prints what it parsed; else skip."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are not both on PATH")
    folder = tmp_path_factory.mktemp("rss-parser")
    env = {
        **os.environ,
        "npm_config_cache": str(folder / ".npm-cache"),  # nothing written to the user's home
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
        "npm_config_fetch_retries": "1",  # an unreachable registry is a quick skip, not minutes of retries
        "npm_config_fetch_retry_mintimeout": "2000",
        "npm_config_fetch_retry_maxtimeout": "5000",
    }
    command = [
        npm,
        "install",
        "--no-save",
        "--no-package-lock",
        "--loglevel=error",
        "--prefix",
        str(folder),
        RSS_PARSER,
    ]
    code, _out, err = _run(command, cwd=folder, env=env, timeout=300)
    if code != 0 or not (folder / "node_modules" / "rss-parser").is_dir():
        pytest.skip(f"npm could not install {RSS_PARSER}: {' / '.join(err.strip().splitlines()[:2])[:300]}")
    (folder / "parse.js").write_text(RSS_PARSER_SCRIPT, encoding="utf-8")
    return node, folder


@pytest.mark.slow
def test_rss_parser_reads_rss_and_atom(tmp_path: Path, content_dir: Path, rss_parser: tuple[str, Path]) -> None:
    """npm's rss-parser, fetching from the server, reads every item's title, link, id, date, author and image."""
    node, folder = rss_parser
    write_corpus(content_dir, 8)
    with serving(tmp_path, content_dir) as base:
        rss, atom = f"{base}/feeds/all.rss", f"{base}/feeds/all.atom"
        code, out, err = _run([node, "parse.js", rss, atom], cwd=folder, env=dict(os.environ), timeout=TIMEOUT)
        assert code == 0, err
        parsed: dict[str, Any] = json.loads(out)
        reference = {fmt: feedparser.parse(fetch(f"{base}/feeds/all.{fmt.value}")) for fmt in (Format.RSS, Format.ATOM)}

    for url, fmt in ((rss, Format.RSS), (atom, Format.ATOM)):
        feed = parsed[url]
        assert (feed["title"], feed["link"]) == ("feedsvc", "https://www.example.com/")
        expected = reference[fmt].entries
        assert len(feed["items"]) == len(expected) == 8
        for item, entry in zip(feed["items"], expected, strict=True):
            assert (item["title"], item["link"]) == (entry.title, entry.link)
            assert datetime.fromisoformat(item["isoDate"]) == instant(entry.published_parsed)
            image = thumbnail_of(entry.link)
            assert item["thumbnail"] == image
            if fmt is Format.RSS:
                assert item["guid"] == entry.link
                assert item["creator"] == entry.author
                assert item["categories"] == [tag.term for tag in entry.tags]
                assert item["content"] == entry.summary  # rss-parser's `content` is the RSS description
                assert "个股" in item["encoded"]
                enclosure = None if image is None else {"url": image, "length": "0", "type": "image/jpeg"}
                assert item["enclosure"] == enclosure
            else:
                assert item["id"] == entry.link
                assert item["author"] == entry.author
                assert item["summary"] == entry.summary
                assert "个股" in item["content"]
    assert parsed[rss]["feedUrl"] == rss  # rss-parser takes the channel's first atom:link as the feed's URL


@pytest.mark.slow
def test_rss_parser_reads_the_archive_pages(tmp_path: Path, content_dir: Path, rss_parser: tuple[str, Path]) -> None:
    """npm's rss-parser reads every archive page of RSS and Atom: each article once, with its title and link."""
    node, folder = rss_parser
    write_corpus(content_dir, 12)
    with serving(tmp_path, content_dir, archive_size=5) as base:
        urls = [f"{base}/feeds/all/archive/{n}.{fmt.value}" for fmt in (Format.RSS, Format.ATOM) for n in (1, 2, 3)]
        code, out, err = _run([node, "parse.js", *urls], cwd=folder, env=dict(os.environ), timeout=TIMEOUT)
        assert code == 0, err
        parsed: dict[str, Any] = json.loads(out)
        current = feedparser.parse(fetch(f"{base}/feeds/all.rss"))
    for fmt in (Format.RSS, Format.ATOM):
        pages = [parsed[url] for url in urls if url.endswith(f".{fmt.value}")]
        assert [len(page["items"]) for page in pages] == [5, 5, 2]
        assert {page["title"] for page in pages} == {"feedsvc"}
        links = [item["link"] for page in pages for item in page["items"]]
        assert len(links) == len(set(links)) == 12
        assert {entry.link for entry in current.entries} == set(links)  # 12 articles: the feed shows them all
        if fmt is Format.RSS:
            assert pages[0]["feedUrl"] == urls[0]  # its first atom:link: the page's own URL
