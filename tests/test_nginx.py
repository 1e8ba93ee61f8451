"""nginx with proxy_cache in front of `feedsvc serve`, configured by the shipped deploy/nginx/feedsvc.conf.

The snippet's placeholders are filled in (an upstream, a listen address and a
cache directory under tmp_path), it is included in a minimal nginx.conf whose
every path is under tmp_path, and a real nginx (Debian's, found on PATH or in
/usr/sbin) runs it in front of a real feedsvc. Without nginx the tests skip.
The same for deploy/nginx/feedsvc-static.conf, nginx serving a build directory.
"""

from __future__ import annotations

import contextlib
import grp
import gzip
import json
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest

from tests.corpus import write_article, write_corpus
from tests.test_server import BIN, _free_port, _get, _running, _wait_for


def _find_nginx() -> str | None:
    found = shutil.which("nginx")
    if found is None and os.access("/usr/sbin/nginx", os.X_OK):
        found = "/usr/sbin/nginx"
    return found


NGINX = _find_nginx()

pytestmark = [pytest.mark.slow, pytest.mark.skipif(NGINX is None, reason="no nginx on PATH or in /usr/sbin")]

SNIPPET = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "feedsvc.conf"
PLACEHOLDERS = ("FEEDSVC_UPSTREAM", "FEEDSVC_LISTEN", "FEEDSVC_CACHE_DIR")
STATIC_SNIPPET = SNIPPET.with_name("feedsvc-static.conf")
INTERVAL = 2  # scan.interval_seconds, and so the feeds' max-age
CACHE_CONTROL = f"public, max-age={INTERVAL}"
READER = {"Accept": "application/rss+xml, application/atom+xml, application/feed+json"}
GZIP = {**READER, "Accept-Encoding": "gzip"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}

Answer = tuple[int, Message, bytes]


@dataclass(frozen=True)
class Stack:
    """feedsvc, and nginx in front of it."""

    direct: str  # feedsvc's base URL
    proxy: str  # nginx's base URL
    content: Path


def _render(prefix: Path, upstream_port: int, listen_port: int) -> Path:
    """Fill in the shipped snippet and include it in an nginx.conf that keeps everything under `prefix`."""
    values = {
        "FEEDSVC_UPSTREAM": f"127.0.0.1:{upstream_port}",
        "FEEDSVC_LISTEN": f"127.0.0.1:{listen_port}",
        "FEEDSVC_CACHE_DIR": str(prefix / "cache"),
    }
    return _render_snippet(prefix, SNIPPET, values)


def _render_snippet(prefix: Path, shipped: Path, values: dict[str, str]) -> Path:
    """Fill in a shipped snippet's placeholders and include it in an nginx.conf that keeps everything under `prefix`."""
    text = shipped.read_text(encoding="utf-8")
    for name, value in values.items():
        assert name in text, f"{shipped.name} lost its placeholder {name}"
        text = text.replace(name, value)
    assert "FEEDSVC_" not in text, "a placeholder the test does not know of"
    snippet = prefix / shipped.name
    snippet.write_text(text, encoding="utf-8")
    # nginx started as root switches its workers to `nobody`, who cannot read tmp_path: stay who we are.
    user = ""
    if os.geteuid() == 0:
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"
    temp_paths = "\n".join(
        f"    {kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""daemon off;
{user}
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{
    worker_connections 256;
}}
http {{
    access_log {prefix / "access.log"};
{temp_paths}
    include {snippet};
}}
""",
        encoding="utf-8",
    )
    return conf


@contextmanager
def _nginx(prefix: Path, upstream_port: int, listen_port: int) -> Iterator[None]:
    """Run nginx with the rendered snippet until the block ends; its error log is printed (shown on failure)."""
    assert NGINX is not None
    prefix.mkdir()
    conf = _render(prefix, upstream_port, listen_port)
    command = [NGINX, "-c", str(conf), "-p", f"{prefix}/"]
    checked = subprocess.run([*command, "-t"], capture_output=True, timeout=30, check=False)
    assert checked.returncode == 0, checked.stderr.decode(errors="replace")
    try:
        with _running(command, listen_port):
            yield
    finally:
        with contextlib.suppress(OSError):
            print((prefix / "error.log").read_text(encoding="utf-8", errors="replace")[-5000:])


@pytest.fixture
def stack(tmp_path: Path, content_dir: Path) -> Iterator[Stack]:
    """feedsvc over a small corpus (rescanning every INTERVAL seconds), and nginx in front of it."""
    write_corpus(content_dir, 6)
    feedsvc_port = _free_port()
    nginx_port = _free_port()
    while nginx_port == feedsvc_port:
        nginx_port = _free_port()
    config = tmp_path / "feedsvc.yaml"
    config.write_text(
        "site:\n  link: https://www.example.com/\n"
        f"  feed_url: http://127.0.0.1:{nginx_port}/\n"
        f"content:\n  dir: {content_dir}\nscan:\n  interval_seconds: {INTERVAL}\n"
        f"server:\n  trusted_proxies: [127.0.0.1]\nstats:\n  flush_seconds: 1\ncache:\n  dir: {tmp_path / 'state'}\n",
        encoding="utf-8",
    )
    serve = [str(BIN / "feedsvc"), "serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(feedsvc_port)]
    with _running(serve, feedsvc_port), _nginx(tmp_path / "nginx", feedsvc_port, nginx_port):
        yield Stack(f"http://127.0.0.1:{feedsvc_port}", f"http://127.0.0.1:{nginx_port}", content_dir)


def _cache(answer: Answer) -> str | None:
    return answer[1]["X-Cache-Status"]


def _pair(url: str, headers: dict[str, str]) -> tuple[Answer, Answer]:
    """GET twice in a row: the second comes well within max-age of the first (tried again on a stalled machine)."""
    for _ in range(5):
        start = time.monotonic()
        first, second = _get(url, headers), _get(url, headers)
        if time.monotonic() - start < INTERVAL / 2:
            return first, second
    pytest.fail("two GETs in a row took longer than half of max-age, five times")


def _same_as_direct(stack: Stack, path: str, headers: dict[str, str], answer: Answer) -> None:
    """Assert that nginx's answer carries what feedsvc answers directly: status, bytes and validators."""
    status, direct_headers, body = _get(stack.direct + path, headers)
    assert (answer[0], answer[2]) == (status, body)
    for name in ("ETag", "Last-Modified", "Cache-Control", "Vary", "Content-Type", "Content-Encoding"):
        assert answer[1][name] == direct_headers[name], name


def test_feeds_are_cached_with_feedsvcs_bytes_validators_and_max_age(stack: Stack) -> None:
    """The first GET is a MISS, the next a HIT; both are feedsvc's own answer; nginx answers conditional GETs 304."""
    url = stack.proxy + "/feeds/all.rss"
    miss, hit = _pair(url, READER)
    assert _cache(miss) == "MISS"
    assert _cache(hit) == "HIT"
    for answer in (miss, hit):
        assert answer[0] == 200
        assert answer[1]["Content-Type"] == "application/rss+xml; charset=utf-8"
        assert answer[1]["Cache-Control"] == CACHE_CONTROL
        assert answer[1]["Vary"] == "Accept, Accept-Encoding"
        assert answer[1]["Content-Encoding"] is None
        assert b"<rss" in answer[2]
        _same_as_direct(stack, "/feeds/all.rss", READER, answer)
    etag, last_modified = hit[1]["ETag"], hit[1]["Last-Modified"]
    assert etag.startswith('"')
    assert last_modified

    for conditional in ({"If-None-Match": etag}, {"If-Modified-Since": last_modified}):
        status, headers, body = _get(url, {**READER, **conditional})
        assert (status, body) == (304, b""), conditional
        assert headers["X-Cache-Status"] in ("HIT", "STALE", "UPDATING", "REVALIDATED"), conditional  # nginx's copy
        assert headers["ETag"] == etag
        assert headers["Cache-Control"] == CACHE_CONTROL
    status, _, body = _get(url, {**READER, "If-None-Match": '"something-else"'})
    assert status == 200
    assert body == hit[2]

    # Vary: Accept is honoured too: a browser gets the feed's HTML view, a reader the feed, each from a copy of its own.
    first, second = _pair(url, BROWSER)
    assert (_cache(first), _cache(second)) == ("MISS", "HIT")  # a copy of its own
    for answer in (first, second):
        assert answer[1]["Content-Type"] == "text/html; charset=utf-8"
        assert answer[1]["Vary"] == "Accept, Accept-Encoding"
        assert answer[2].startswith(b"<!DOCTYPE html>")
        _same_as_direct(stack, "/feeds/all.rss", BROWSER, answer)
    assert first[1]["ETag"] != etag
    reader = _get(url, READER)
    assert reader[1]["Content-Type"] == "application/rss+xml; charset=utf-8"
    assert reader[2] == hit[2]
    assert reader[1]["ETag"] == etag


@pytest.mark.parametrize("path", ["/feeds/all.atom", "/feeds/all.json", "/feeds/all/archive/1.rss"])
def test_a_browsers_view_and_a_readers_feed_never_mix(stack: Stack, path: str) -> None:
    """Whichever variant nginx fetched first, a browser gets the HTML view and a reader the feed, in either encoding."""
    view = _get(stack.direct + path, BROWSER)
    feed = _get(stack.direct + path, READER)
    assert view[1]["Content-Type"] == "text/html; charset=utf-8"
    assert feed[1]["Content-Type"] != view[1]["Content-Type"]
    askers = [BROWSER, READER, {**BROWSER, "Accept-Encoding": "gzip"}, GZIP]
    if path.endswith(".atom"):
        askers.reverse()  # the reader's copies first

    def check(answer: Answer, asked: dict[str, str]) -> None:
        assert answer[0] == 200
        expected = view if asked["Accept"] == BROWSER["Accept"] else feed
        body = gzip.decompress(answer[2]) if "Accept-Encoding" in asked else answer[2]
        assert body == expected[2]
        assert answer[1]["Content-Type"] == expected[1]["Content-Type"]
        suffix = '-gz"' if "Accept-Encoding" in asked else '"'
        assert answer[1]["ETag"] == expected[1]["ETag"][:-1] + suffix
        _same_as_direct(stack, path, asked, answer)

    for asked in askers:
        answer = _get(stack.proxy + path, asked)
        assert _cache(answer) == "MISS"
        check(answer, asked)
    for asked in [*askers, *reversed(askers)]:
        answer = _get(stack.proxy + path, asked)
        assert _cache(answer) in ("HIT", "STALE", "UPDATING", "REVALIDATED")
        check(answer, asked)
    status, headers, body = _get(stack.proxy + path, {**BROWSER, "If-None-Match": view[1]["ETag"]})
    assert (status, body, headers["ETag"]) == (304, b"", view[1]["ETag"])


@pytest.mark.parametrize("path", ["/feeds/all.atom", "/feeds/all.json"])
def test_gzip_and_identity_copies_never_mix(stack: Stack, path: str) -> None:
    """Whichever encoding nginx fetched first, each client gets its own: gzip with the -gz ETag, or plain bytes."""
    plain = _get(stack.direct + path, READER)
    assert plain[0] == 200
    gzip_etag = plain[1]["ETag"][:-1] + '-gz"'
    order = [READER, GZIP] if path.endswith(".atom") else [GZIP, READER]

    def check(answer: Answer, asked: dict[str, str]) -> None:
        assert answer[0] == 200
        assert answer[1]["Cache-Control"] == CACHE_CONTROL
        if asked is GZIP:
            assert answer[1]["Content-Encoding"] == "gzip"
            assert answer[1]["ETag"] == gzip_etag
            assert gzip.decompress(answer[2]) == plain[2]
        else:
            assert answer[1]["Content-Encoding"] is None
            assert answer[1]["ETag"] == plain[1]["ETag"]
            assert answer[2] == plain[2]
        _same_as_direct(stack, path, asked, answer)

    for asked in order:  # each encoding is fetched from feedsvc once
        answer = _get(stack.proxy + path, asked)
        assert _cache(answer) == "MISS"
        check(answer, asked)
    for asked in [*order, *reversed(order)]:  # then answered from its own copy
        first, second = _pair(stack.proxy + path, asked)
        assert _cache(second) == "HIT"
        check(first, asked)
        check(second, asked)

    status, headers, body = _get(stack.proxy + path, {**GZIP, "If-None-Match": gzip_etag})
    assert (status, body, headers["ETag"]) == (304, b"", gzip_etag)
    # Accept-Encoding as browsers and readers write it; a q=0 refuses gzip.
    assert _get(stack.proxy + path, {**READER, "Accept-Encoding": "gzip, deflate, br"})[1]["ETag"] == gzip_etag
    refused = _get(stack.proxy + path, {**READER, "Accept-Encoding": "gzip;q=0, identity"})
    assert refused[1]["Content-Encoding"] is None
    assert refused[2] == plain[2]


def test_polls_answered_from_the_cache_are_counted_by_feedsvc(stack: Stack) -> None:
    """Every poll reaches feedsvc as a copy it answers 304: readers nginx answers from its copy are counted too."""
    readers = ["Newsboat/2.36 (Linux x86_64)", "NetNewsWire (RSS Reader; https://netnewswire.com/)"]
    feedly = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 870 subscribers; like FeedFetcher-Google)"
    answers = [_get(stack.proxy + "/feeds/all.rss", {"User-Agent": agent}) for agent in [*readers, feedly]]
    assert [_cache(answer) for answer in answers] == ["MISS", "HIT", "HIT"]  # feedsvc was asked for one of them
    # A client's forged X-Forwarded-For is to the left of what nginx adds, and nginx's address is trusted:
    # the address counted is the one nginx saw (this test's), whatever the client wrote.
    _get(stack.proxy + "/feeds/all.atom", {"User-Agent": readers[0], "X-Forwarded-For": "127.0.0.1"})

    def counted() -> bool:
        stats = json.loads(_get(stack.proxy + "/stats.json")[2])["feeds"].get("all", {})
        return stats.get("aggregators") == {"Feedly": 870} and stats.get("direct") == len(readers)

    _wait_for(counted, "feedsvc to count the polls nginx answered")


def test_health_and_metrics_are_not_cached(stack: Stack) -> None:
    """/healthz and /metrics always come from feedsvc: no cache status, no-store, and /healthz follows the scans."""
    reports = []
    for _ in range(3):
        status, headers, body = _get(stack.proxy + "/healthz")
        assert status == 200
        assert headers["X-Cache-Status"] is None
        assert headers["Cache-Control"] == "no-store"
        reports.append(json.loads(body))
    assert all(report["status"] == "ok" for report in reports)
    started = reports[-1]["last_scan"]["started"]
    _wait_for(
        lambda: json.loads(_get(stack.proxy + "/healthz")[2])["last_scan"]["started"] != started,
        "/healthz through nginx to report a later scan",
        timeout=INTERVAL * 3 + 5,
    )
    for _ in range(2):
        status, headers, body = _get(stack.proxy + "/metrics")
        assert status == 200
        assert headers["X-Cache-Status"] is None
        assert b"# TYPE" in body


def test_a_changed_feed_reaches_clients_within_max_age(stack: Stack) -> None:
    """A new article shows in both cached encodings within one rescan plus max-age (and nginx's whole second)."""
    path = "/feeds/all.atom"
    for headers in (READER, GZIP):
        assert _cache(_pair(stack.proxy + path, headers)[1]) == "HIT"

    def shows(base: str, headers: dict[str, str]) -> Callable[[], bool]:
        def check() -> bool:
            status, answer_headers, body = _get(base + path, headers)
            if answer_headers["Content-Encoding"] == "gzip":
                body = gzip.decompress(body)
            return status == 200 and b"Fresh off the press" in body

        return check

    checks = {"feedsvc": shows(stack.direct, READER), "nginx": shows(stack.proxy, READER)}
    checks["nginx, gzip"] = shows(stack.proxy, GZIP)
    assert not any(check() for check in checks.values())
    write_article(stack.content, "new/fresh.md", {"title": "Fresh off the press", "date": "2025-06-01T00:00Z"})
    start = time.monotonic()
    # feedsvc sees the file within a rescan (at once when the file event arrives); nginx then keeps
    # its copy until max-age is over (counted in whole seconds: up to one more) and refreshes it in
    # the background, while answering that request from the copy it has.
    nginx_lag = INTERVAL + 1 + 1  # the last 1: a margin for a busy machine
    bound = INTERVAL + nginx_lag + 1
    seen: dict[str, float] = {}
    while len(seen) < len(checks) and time.monotonic() - start < bound + 10:
        for name, check in checks.items():
            if name not in seen and check():
                seen[name] = round(time.monotonic() - start, 2)
        time.sleep(0.1)
    print(f"the new article showed after (seconds): {seen}")
    assert set(seen) == set(checks), f"not all showed the new article: {seen}"
    assert max(seen.values()) <= bound, seen
    assert max(seen["nginx"], seen["nginx, gzip"]) - seen["feedsvc"] <= nginx_lag, seen

    for headers in (READER, GZIP):
        answer = _get(stack.proxy + path, headers)
        _same_as_direct(stack, path, headers, answer)
        assert answer[1]["Cache-Control"] == CACHE_CONTROL


@pytest.fixture
def static_site(tmp_path: Path, content_dir: Path) -> Iterator[tuple[str, Path]]:
    """A real build of a small corpus, and nginx serving it with the shipped static snippet."""
    from click.testing import CliRunner

    from feedsvc.cli import main

    write_corpus(content_dir, 6)
    config = tmp_path / "feedsvc.yaml"
    config.write_text(
        f"site:\n  link: https://www.example.com/\ncontent:\n  dir: {content_dir}\nfeeds:\n  archive_size: 2\n",
        encoding="utf-8",
    )
    out = tmp_path / "build"
    result = CliRunner().invoke(main, ["build", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    port = _free_port()
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    conf = _render_snippet(
        prefix, STATIC_SNIPPET, {"FEEDSVC_LISTEN": f"127.0.0.1:{port}", "FEEDSVC_BUILD_DIR": str(out)}
    )
    assert NGINX is not None
    command = [NGINX, "-c", str(conf), "-p", f"{prefix}/"]
    checked = subprocess.run([*command, "-t"], capture_output=True, timeout=30, check=False)
    assert checked.returncode == 0, checked.stderr.decode(errors="replace")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    try:
        _wait_for(lambda: _get(base)[0] == 200, "nginx to serve the build")
        yield base, out
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def test_a_build_behind_nginx_has_feedsvcs_media_types(static_site: tuple[str, Path]) -> None:
    """Every document and archive page of a build comes from nginx with the media type its manifest names."""
    base, out = static_site
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    listed = {**manifest["documents"], **manifest["archives"]}
    kinds = {path.rsplit(".", 1)[-1] for path in listed}
    assert {"rss", "atom", "json", "opml", "html", "xsl"} <= kinds
    assert any("/archive/" in path for path in listed)
    for path, entry in listed.items():
        status, headers, body = _get(base + path)
        assert status == 200, path
        assert headers["Content-Type"] == entry["type"], path
        if path in manifest["archives"]:  # stored as gzip only, decompressed for a client that does not ask for it
            assert body == gzip.decompress((out / (path + ".gz")).read_bytes())
        else:
            assert body == (out / path).read_bytes()
        if path.startswith("feeds/"):
            assert headers["Cache-Control"] == "public, max-age=60"
            assert _get(base + path, {"If-None-Match": headers["ETag"]})[0] == 304
    assert _get(base + "manifest.json")[1]["Content-Type"] == "application/json"
    assert _get(base)[1]["Content-Type"] == "text/html; charset=utf-8"
    (out / ".feedsvc-build").write_text("x", encoding="utf-8")
    assert _get(base + ".feedsvc-build")[0] == 404


def test_an_archive_page_behind_nginx_comes_from_its_gzip_file(static_site: tuple[str, Path]) -> None:
    """A gzip client gets the stored file as it is, others the page decompressed; each its ETag, each answered 304."""
    base, out = static_site
    archives = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["archives"]
    assert {tuple(entry["stored"]) for entry in archives.values()} == {("gzip",)}
    for path in ("feeds/all/archive/1.atom", "feeds/all/archive/2.json"):
        stored = (out / (path + ".gz")).read_bytes()
        assert not (out / path).exists()

        status, zipped, body = _get(base + path, {"Accept-Encoding": "gzip"})
        assert status == 200, path
        assert body == stored
        assert (zipped["Content-Encoding"], zipped["Content-Length"]) == ("gzip", str(len(stored)))
        assert zipped["ETag"].startswith('"')  # nginx's own: the file's time and size
        status, plain, body = _get(base + path, {"Accept-Encoding": "identity"})
        assert status == 200, path
        assert body == gzip.decompress(stored)
        assert plain["Content-Encoding"] is None
        assert plain["ETag"] == "W/" + zipped["ETag"]  # decompressed: the same tag, weak
        for answer in (zipped, plain):
            assert answer["Content-Type"] == archives[path]["type"], path
            assert "Accept-Encoding" in answer.get_all("Vary")
            assert answer["Cache-Control"] == "public, max-age=60"
            assert answer["Last-Modified"] == plain["Last-Modified"]
        for asked, answer in ((GZIP, zipped), (READER, plain)):
            status, headers, body = _get(base + path, {**asked, "If-None-Match": answer["ETag"]})
            assert (status, body) == (304, b""), path
            # nginx 1.22 names the tag of a 304 before gunzip would have made it weak.
            assert headers["ETag"].removeprefix("W/") == zipped["ETag"], path

    # A page as an older build stored it, a plain file without its .gz, is sent from that file.
    older = out / "feeds" / "all" / "archive" / "99.rss"
    older.write_bytes(b"<rss>an older build's page</rss>")
    status, headers, body = _get(base + "feeds/all/archive/99.rss", READER)
    assert (status, headers["Content-Type"], body) == (200, "application/rss+xml; charset=utf-8", older.read_bytes())


def test_a_browser_gets_the_view_beside_each_feed_from_nginx(static_site: tuple[str, Path]) -> None:
    """With the static snippet a browser gets `{slug}.{fmt}.html` at the feed's URL, a reader the feed; Vary says so."""
    base, out = static_site
    views = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["views"]
    assert views
    for view, entry in views.items():
        status, headers, body = _get(base + entry["of"], BROWSER)
        assert (status, headers["Content-Type"], body) == (200, entry["type"], (out / view).read_bytes()), view
        assert set(headers.get_all("Vary")) == {"Accept", "Accept-Encoding"}
        assert headers["Cache-Control"] == "public, max-age=60"
        assert _get(base + entry["of"], {**BROWSER, "If-None-Match": headers["ETag"]})[0] == 304
        status, headers, body = _get(base + entry["of"], READER)
        assert (status, body) == (200, (out / entry["of"]).read_bytes()), view
        assert headers["Content-Type"] != entry["type"]
        status, headers, body = _get(base + entry["of"], {**BROWSER, "Accept-Encoding": "gzip"})
        assert gzip.decompress(body) == (out / view).read_bytes()
    # Archive pages have no view in a build: a browser gets the page, from its .gz file.
    status, headers, body = _get(base + "feeds/all/archive/1.atom", BROWSER)
    assert (status, headers["Content-Type"]) == (200, "application/atom+xml; charset=utf-8")
    assert body == gzip.decompress((out / "feeds/all/archive/1.atom.gz").read_bytes())


def test_a_feed_behind_nginx_is_compressed_for_clients_that_accept_gzip(static_site: tuple[str, Path]) -> None:
    """A current feed, stored plain, goes out gzip to a client that asks for it, and plain to the others."""
    base, out = static_site
    stored = (out / "feeds" / "all.rss").read_bytes()
    status, headers, body = _get(base + "feeds/all.rss", GZIP)
    assert (status, headers["Content-Encoding"]) == (200, "gzip")
    assert set(headers.get_all("Vary")) == {"Accept", "Accept-Encoding"}
    assert gzip.decompress(body) == stored
    status, headers, body = _get(base + "feeds/all.rss", READER)
    assert (status, headers["Content-Encoding"], body) == (200, None, stored)
