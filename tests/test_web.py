"""HTTP behaviour of the web app over a store filled by a Refresher: feeds, validators, negotiation, pages, health."""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.http import http_date, parse_date
from werkzeug.test import TestResponse

from feedsvc.model import INDEX_PATH, OPML_PATH, Format, feed_path, make_document
from feedsvc.refresh.refresher import Refresher
from feedsvc.store import Store
from tests.conftest import Clock, make_settings
from tests.corpus import write_article

INTERVAL = 120
CATEGORIES = {
    "金融": {"slug": "finance", "aliases": ["头条", "Money Talk"]},
    "空": {"slug": "empty"},
}
CONTENT_TYPES = {
    Format.RSS: "application/rss+xml; charset=utf-8",
    Format.ATOM: "application/atom+xml; charset=utf-8",
    Format.JSON: "application/feed+json",
}
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
READER_ACCEPT = "application/rss+xml, application/rdf+xml;q=0.8, application/atom+xml;q=0.6, application/xml;q=0.4"
NEWEST_UPDATE = datetime(2026, 11, 20, 4, 30, tzinfo=UTC)
XML = [Format.RSS, Format.ATOM]
FEED_PATHS = [f"/feeds/{slug}.{fmt.value}" for slug in ("finance", "all", "auto-x") for fmt in Format]


@pytest.fixture
def site(content_dir: Path, store: Store, clock: Clock) -> Refresher:
    """Fill the store from three articles, two configured categories (one empty) and an auto one; refresh once."""
    write_article(
        content_dir,
        "2026/a.md",
        {
            "title": "A",
            "categories": ["金融"],
            "date": "2026-11-01T08:00:00Z",
            "updated": "2026-11-20T12:30:00+08:00",
            "thumbnail": "https://img.example.com/a.jpg",
        },
    )
    write_article(content_dir, "2026/b.md", {"title": "B", "categories": ["金融", "auto-x"], "date": "2026-11-10"})
    write_article(content_dir, "2026/c.md", {"title": "C", "date": "2026-11-11"}, "<p>" + "长文。" * 500 + "</p>")
    settings = make_settings(content_dir, categories=CATEGORIES, scan={"interval_seconds": INTERVAL})
    refresher = Refresher(settings, store, clock=clock)
    refresher.refresh()
    return refresher


def stored(store: Store, path: str) -> bytes:
    """Return the uncompressed bytes of a document in the store, by URL path."""
    return store.snapshot.documents[path.lstrip("/")].body


def plain_body(response: TestResponse) -> bytes:
    """Return a response body, decompressed when it was sent gzipped."""
    if response.headers.get("Content-Encoding") == "gzip":
        return gzip.decompress(response.get_data())
    return response.get_data()


def expected_etag(response: TestResponse, media_type: str) -> str:
    """Recompute the ETag a 200 response should carry from its (uncompressed) body."""
    document = make_document(plain_body(response), media_type)
    return document.gzip_etag if response.headers.get("Content-Encoding") == "gzip" else document.etag


def request_counts(client: FlaskClient) -> dict[tuple[str, str, str], float]:
    """Scrape /metrics and return the request counter by (route, format, status)."""
    text = client.get("/metrics").get_data(as_text=True)
    counts = {}
    for family in text_string_to_metric_families(text):
        if family.name == "feedsvc_http_requests":
            for sample in family.samples:
                if sample.name == "feedsvc_http_requests_total":
                    labels = sample.labels
                    counts[labels["route"], labels["format"], labels["status"]] = sample.value
    return counts


def gauge(client: FlaskClient, name: str) -> float:
    """Scrape /metrics and return the value of a gauge without labels."""
    for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True)):
        if family.name == name:
            (sample,) = family.samples
            return sample.value
    raise AssertionError(f"{name} is not in /metrics")


# --- feeds ----------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["finance", "all", "empty", "auto-x"])
@pytest.mark.parametrize("fmt", list(Format))
def test_feed_is_served_with_its_exact_content_type(
    site: Refresher, client: FlaskClient, slug: str, fmt: Format
) -> None:
    """`/feeds/{slug}.{fmt}` answers 200 with the format's exact Content-Type and the stored bytes."""
    response = client.get(f"/feeds/{slug}.{fmt.value}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CONTENT_TYPES[fmt]
    assert response.get_data() == stored(site.store, feed_path(slug, fmt))
    assert "Content-Encoding" not in response.headers


@pytest.mark.parametrize("path", FEED_PATHS)
def test_feed_has_a_strong_etag_that_hashes_its_bytes(site: Refresher, client: FlaskClient, path: str) -> None:
    """A feed's ETag is strong (quoted, no W/) and is the sha256-based tag of its uncompressed bytes."""
    response = client.get(path)
    etag = response.headers["ETag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert etag == make_document(response.get_data(), "x").etag
    assert response.get_etag() == (etag.strip('"'), False)


@pytest.mark.parametrize("path", FEED_PATHS)
def test_feed_carries_cache_control_vary_and_last_modified(site: Refresher, client: FlaskClient, path: str) -> None:
    """Feeds carry Cache-Control with the scan interval, Vary on Accept and Accept-Encoding, and Last-Modified."""
    response = client.get(path)
    assert response.headers["Cache-Control"] == f"public, max-age={INTERVAL}"
    assert response.headers["Vary"] == "Accept, Accept-Encoding"
    assert parse_date(response.headers["Last-Modified"]) is not None


def test_last_modified_is_the_latest_entry_update(site: Refresher, client: FlaskClient) -> None:
    """Last-Modified is the latest `updated` among the feed's entries, not the time of the refresh."""
    for path in ("/feeds/finance.rss", "/feeds/all.json", "/feeds/finance.atom"):
        assert client.get(path).headers["Last-Modified"] == http_date(NEWEST_UPDATE)
    assert client.get("/feeds/auto-x.rss").headers["Last-Modified"] == "Mon, 09 Nov 2026 16:00:00 GMT"


def test_empty_feed_has_no_last_modified(site: Refresher, client: FlaskClient) -> None:
    """A feed without entries has no Last-Modified, so If-Modified-Since alone never answers 304."""
    response = client.get("/feeds/empty.atom")
    assert "Last-Modified" not in response.headers
    again = client.get("/feeds/empty.atom", headers={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"})
    assert again.status_code == 200


@pytest.mark.parametrize("accept_encoding", ["gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.5", "*", "GZIP"])
@pytest.mark.parametrize("path", ["/feeds/all.rss", "/feeds/finance.json", "/", "/feeds.opml"])
def test_gzip_when_accepted_with_its_own_etag(
    site: Refresher, client: FlaskClient, path: str, accept_encoding: str
) -> None:
    """A client accepting gzip gets a gzip body that decompresses to the plain one, with `-gz` in its ETag."""
    plain = client.get(path)
    zipped = client.get(path, headers={"Accept-Encoding": accept_encoding})
    assert zipped.status_code == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.get_data()) == plain.get_data()
    assert zipped.headers["ETag"] == plain.headers["ETag"][:-1] + '-gz"'
    assert zipped.headers["Content-Type"] == plain.headers["Content-Type"]
    assert int(zipped.headers["Content-Length"]) == len(zipped.get_data())


@pytest.mark.parametrize("accept_encoding", ["gzip;q=0", "gzip;q=0.000", "identity", "br, deflate", "*;q=0", ""])
def test_no_gzip_when_refused_or_not_offered(site: Refresher, client: FlaskClient, accept_encoding: str) -> None:
    """A client that refuses gzip (q=0) or does not offer it gets the plain body and the plain ETag."""
    response = client.get("/feeds/all.rss", headers={"Accept-Encoding": accept_encoding})
    assert "Content-Encoding" not in response.headers
    assert response.get_data() == stored(site.store, "feeds/all.rss")
    assert not response.headers["ETag"].endswith('-gz"')


# --- conditional requests -----------------------------------------------------------------


def conditional_headers(etag: str) -> list[str]:
    """Return If-None-Match values that match a feed with this ETag."""
    gz = etag[:-1] + '-gz"'
    return [etag, gz, "W/" + etag, "W/" + gz, f'"nope", {etag}', f'"a", "b", W/{gz}', "*"]


@pytest.mark.parametrize("case", range(7))
@pytest.mark.parametrize("path", ["/feeds/finance.rss", "/feeds/all.atom", "/feeds/finance.json"])
def test_matching_if_none_match_answers_304(site: Refresher, client: FlaskClient, path: str, case: int) -> None:
    """If-None-Match with the ETag, the gzip ETag, a weak form, a list or * answers 304 with no body and validators."""
    first = client.get(path)
    value = conditional_headers(first.headers["ETag"])[case]
    response = client.get(path, headers={"If-None-Match": value})
    assert response.status_code == 304
    assert response.get_data() == b""
    assert response.headers["ETag"] == first.headers["ETag"]
    assert response.headers["Cache-Control"] == f"public, max-age={INTERVAL}"
    assert response.headers["Vary"] == "Accept, Accept-Encoding"


def test_304_to_a_gzip_client_names_the_gzip_etag(site: Refresher, client: FlaskClient) -> None:
    """A 304 to a client that accepts gzip carries the gzip ETag it would have received."""
    zipped = client.get("/feeds/all.rss", headers={"Accept-Encoding": "gzip"})
    response = client.get(
        "/feeds/all.rss", headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]}
    )
    assert response.status_code == 304
    assert response.headers["ETag"] == zipped.headers["ETag"]


def test_head_with_matching_etag_answers_304(site: Refresher, client: FlaskClient) -> None:
    """A conditional HEAD is answered like a conditional GET: 304 with no body."""
    etag = client.get("/feeds/all.json").headers["ETag"]
    response = client.head("/feeds/all.json", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.get_data() == b""


def test_non_matching_if_none_match_wins_over_if_modified_since(site: Refresher, client: FlaskClient) -> None:
    """A non-matching If-None-Match answers 200 even with an If-Modified-Since that alone would give 304."""
    first = client.get("/feeds/finance.rss")
    headers = {"If-None-Match": '"0123456789abcdef"', "If-Modified-Since": first.headers["Last-Modified"]}
    response = client.get("/feeds/finance.rss", headers=headers)
    assert response.status_code == 200
    assert response.get_data() == first.get_data()


@pytest.mark.parametrize(
    ("since", "status"),
    [
        (NEWEST_UPDATE, 304),
        (NEWEST_UPDATE + timedelta(seconds=1), 304),
        (NEWEST_UPDATE + timedelta(days=400), 304),
        (NEWEST_UPDATE - timedelta(seconds=1), 200),
        (datetime(1990, 1, 1, tzinfo=UTC), 200),
    ],
)
def test_if_modified_since_against_last_modified(
    site: Refresher, client: FlaskClient, since: datetime, status: int
) -> None:
    """If-Modified-Since equal to or after Last-Modified answers 304, before it 200."""
    response = client.get("/feeds/finance.atom", headers={"If-Modified-Since": http_date(since)})
    assert response.status_code == status
    assert (response.get_data() == b"") == (status == 304)


@pytest.mark.parametrize(
    "since", ["garbage", "", "Mon, 31 Feb 2026 00:00:00 GMT", "Sun, 01 Nov 0000 00:00:00 GMT", "99999999999999999999"]
)
def test_unusable_if_modified_since_is_ignored(site: Refresher, client: FlaskClient, since: str) -> None:
    """An If-Modified-Since that is not a usable date is ignored: 200 with the full feed."""
    response = client.get("/feeds/finance.atom", headers={"If-Modified-Since": since})
    assert response.status_code == 200
    assert response.get_data() == stored(site.store, "feeds/finance.atom")


def test_changed_feed_gets_a_new_etag_and_stale_tags_get_200(
    site: Refresher, client: FlaskClient, content_dir: Path
) -> None:
    """After content changes, the old ETag no longer matches: 200 with a new ETag; unchanged feeds keep theirs."""
    before = {path: client.get(path).headers["ETag"] for path in FEED_PATHS}
    write_article(content_dir, "2026/d.md", {"title": "D", "categories": ["金融"], "date": "2026-11-12"})
    site.refresh()
    for path in FEED_PATHS:
        response = client.get(path, headers={"If-None-Match": before[path]})
        if "auto-x" in path:
            assert response.status_code == 304
        else:
            assert response.status_code == 200
            assert response.headers["ETag"] != before[path]


# --- negotiation and HEAD ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(Format))
def test_browser_gets_the_html_view_of_every_format(site: Refresher, client: FlaskClient, fmt: Format) -> None:
    """A browser Accept gets a feed's HTML view (tests/test_views.py has the rest), with its own ETag."""
    path = f"/feeds/all.{fmt.value}"
    reader = client.get(path)
    browser = client.get(path, headers={"Accept": BROWSER_ACCEPT})
    assert browser.status_code == 200
    assert browser.headers["Content-Type"] == "text/html; charset=utf-8"
    assert browser.get_data().startswith(b"<!DOCTYPE html>")
    assert browser.headers["ETag"] != reader.headers["ETag"]
    assert browser.headers["Vary"] == reader.headers["Vary"] == "Accept, Accept-Encoding"


@pytest.mark.parametrize(
    "accept", [None, "*/*", READER_ACCEPT, "application/atom+xml, application/rss+xml", "text/xml"]
)
@pytest.mark.parametrize("fmt", XML)
def test_feed_readers_get_the_feed_type(site: Refresher, client: FlaskClient, fmt: Format, accept: str | None) -> None:
    """A feed reader's Accept, `*/*` or no Accept at all gets the feed's own Content-Type."""
    headers = {} if accept is None else {"Accept": accept}
    response = client.get(f"/feeds/finance.{fmt.value}", headers=headers)
    assert response.headers["Content-Type"] == CONTENT_TYPES[fmt]


@pytest.mark.parametrize("encoding", [None, "gzip"])
@pytest.mark.parametrize("path", ["/feeds/all.rss", "/feeds/finance.json", "/", "/feeds.opml"])
def test_head_gives_the_headers_of_get_without_a_body(
    site: Refresher, client: FlaskClient, path: str, encoding: str | None
) -> None:
    """HEAD answers with GET's headers and Content-Length, and no body."""
    headers = {} if encoding is None else {"Accept-Encoding": encoding}
    get = client.get(path, headers=headers)
    head = client.head(path, headers=headers)
    assert head.status_code == 200
    assert head.get_data() == b""
    assert int(head.headers["Content-Length"]) == len(get.get_data())
    for name in ("Content-Type", "ETag", "Cache-Control", "Vary", "Last-Modified", "Content-Encoding"):
        assert head.headers.get(name) == get.headers.get(name), name


# --- names, errors, methods -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "slug"),
    [("金融", "finance"), ("头条", "finance"), ("Money Talk", "finance"), ("空", "empty")],
)
@pytest.mark.parametrize("fmt", list(Format))
def test_category_name_or_alias_redirects_to_the_slug(
    site: Refresher, client: FlaskClient, name: str, slug: str, fmt: Format
) -> None:
    """A configured category's name or alias, percent-encoded, answers 301 (the config holds it) to the slug URL."""
    response = client.get(f"/feeds/{quote(name)}.{fmt.value}")
    assert response.status_code == 301
    assert response.headers["Location"] == f"/feeds/{slug}.{fmt.value}"
    assert client.get(response.headers["Location"]).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/nope.rss",
        "/feeds/finance.xml",
        "/feeds/finance.rss2",
        "/feeds/finance",
        "/feeds/.rss",
        "/feeds/",
        "/feeds/finance.rss.bak",
        "/feeds/../../etc/passwd",
        "/feeds/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/feeds/..%2F..%2Fetc%2Fpasswd.rss",
        "/feeds/..%2f..%2ffeedsvc%2fweb.py",
        "/feeds/%2e%2e/finance.rss",
        "/feeds/%00.rss",
        "/feeds/finance%00.rss",
        "/feeds/finance.rss%00",
        "/feeds/%ff%fe.rss",
        "/feeds/%C0%AE%C0%AE%2F.rss",
        "/feeds/%E9%87.rss",
        "/feeds/" + "a" * 5000 + ".rss",
        "/feeds/" + "%2e" * 1700 + ".json",
        "/" + "x" * 5000,
        "/etc/passwd",
        "/feeds.opml/../healthz.rss",
    ],
)
def test_unknown_or_hostile_paths_get_404(site: Refresher, client: FlaskClient, path: str) -> None:
    """Unknown feeds and formats, traversal, NUL, invalid UTF-8 and very long paths all answer 404."""
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/plain")
    assert len(response.get_data()) < 100


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/feeds/finance.rss", "/", "/feeds.opml", "/healthz", "/metrics"])
def test_other_methods_get_405_with_allow(site: Refresher, client: FlaskClient, method: str, path: str) -> None:
    """Methods other than GET and HEAD answer 405 with a short plain body and an Allow header."""
    response = client.open(path, method=method, data=b"x=1")
    assert response.status_code == 405
    assert response.headers["Content-Type"].startswith("text/plain")
    assert len(response.get_data()) < 100
    allowed = {item.strip() for item in response.headers["Allow"].split(",")}
    assert {"GET", "HEAD"} <= allowed
    assert method not in allowed


# --- index and OPML -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "document", "content_type"),
    [
        ("/", INDEX_PATH, "text/html; charset=utf-8"),
        ("/index.html", INDEX_PATH, "text/html; charset=utf-8"),
        ("/feeds.opml", OPML_PATH, "text/x-opml; charset=utf-8"),
    ],
)
def test_index_and_opml_are_served_with_etag_and_304(
    site: Refresher, client: FlaskClient, path: str, document: str, content_type: str
) -> None:
    """The index and the OPML are served with their type, a strong ETag and Cache-Control, and answer 304."""
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.get_data() == stored(site.store, document)
    assert response.headers["ETag"] == make_document(response.get_data(), content_type).etag
    assert response.headers["Cache-Control"] == f"public, max-age={INTERVAL}"
    again = client.get(path, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert again.get_data() == b""


def test_pages_answer_503_before_the_first_refresh(client: FlaskClient) -> None:
    """Before any refresh the index and OPML answer 503 with Retry-After, and feeds 404."""
    for path in ("/", "/feeds.opml"):
        response = client.get(path)
        assert response.status_code == 503
        assert "Retry-After" in response.headers
    assert client.get("/feeds/all.rss").status_code == 404


# --- health and metrics -------------------------------------------------------------------------


def test_healthz_reports_the_last_scan(site: Refresher, client: FlaskClient) -> None:
    """`/healthz` is JSON with status ok, counts, problems and the last scan's statistics."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    report = response.get_json()
    assert report["status"] == "ok"
    assert report["articles"] == 3
    assert report["feeds"] == 4 * len(Format)  # all, finance, empty, auto-x
    assert report["errors"] == 0
    assert report["problems"] == []
    scan = report["last_scan"]
    assert set(scan) >= {"started", "duration_s", "files_seen", "files_parsed", "files_failed", "feeds_rebuilt"}
    assert datetime.fromisoformat(scan["started"]) == datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert isinstance(scan["duration_s"], float)
    assert (scan["files_seen"], scan["files_parsed"], scan["files_failed"]) == (3, 3, 0)
    assert scan["feeds_rebuilt"] == 4 * len(Format)


def test_healthz_lists_at_most_100_problems(site: Refresher, client: FlaskClient, content_dir: Path) -> None:
    """Problem files count in `errors` and are listed as {path, message}, at most 100, without degrading."""
    for number in range(105):
        (content_dir / f"bad-{number:03d}.md").write_text("no front matter here\n", encoding="utf-8")
    site.refresh()
    report = client.get("/healthz").get_json()
    assert report["status"] == "ok"
    assert report["errors"] == 105
    assert len(report["problems"]) == 100
    first = report["problems"][0]
    assert set(first) == {"path", "message"}
    assert first["path"] == "bad-000.md"
    assert first["message"].startswith("bad-000.md: ")
    assert report["last_scan"]["files_failed"] == 105
    assert report["articles"] == 3


def test_healthz_degrades_when_the_content_directory_disappears(
    site: Refresher, client: FlaskClient, content_dir: Path
) -> None:
    """Without its content directory the service says degraded and keeps serving the last good feeds; it recovers."""
    before = {path: client.get(path).get_data() for path in FEED_PATHS}
    backup = content_dir.parent / "backup"
    shutil.move(content_dir, backup)
    site.refresh()
    report = client.get("/healthz").get_json()
    assert report["status"] == "degraded"
    assert report["articles"] == 3
    assert gauge(client, "feedsvc_degraded") == 1
    for path, data in before.items():
        response = client.get(path)
        assert response.status_code == 200
        assert response.get_data() == data
    shutil.move(backup, content_dir)
    site.refresh()
    assert client.get("/healthz").get_json()["status"] == "ok"
    assert gauge(client, "feedsvc_degraded") == 0


def test_metrics_parse_and_count_requests_by_route_format_and_status(site: Refresher, client: FlaskClient) -> None:
    """`/metrics` is valid Prometheus text and counts requests by route, format and status."""
    before = request_counts(client)
    for _ in range(3):
        client.get("/feeds/finance.rss")
    client.get("/feeds/finance.json")
    client.get("/feeds/nope.atom")
    client.get("/feeds/%E9%87%91%E8%9E%8D.json")
    client.get("/")
    client.post("/feeds/finance.rss")
    after = request_counts(client)

    def added(route: str, fmt: str, status: str) -> float:
        return after.get((route, fmt, status), 0) - before.get((route, fmt, status), 0)

    assert added("feed", "rss", "200") == 3
    assert added("feed", "json", "200") == 1
    assert added("feed", "atom", "404") == 1
    assert added("redirect", "json", "301") == 1
    assert added("index", "html", "200") == 1
    assert sum(count for (route, _fmt, status), count in after.items() if status == "405") >= 1
    response = client.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.get_data(as_text=True))}
    assert {"feedsvc_articles", "feedsvc_feeds", "feedsvc_problems", "feedsvc_degraded"} <= names


# --- fuzz -------------------------------------------------------------------------------------------

TRICKY_SEGMENTS = [
    "feeds",
    "finance.rss",
    "all.atom",
    "auto-x.json",
    "金融.rss",
    "..",
    ".",
    "%2e%2e",
    "%2F",
    "%00",
    "%ff",
    "%E9%87",
    "%",
    "%%",
    ".rss",
    "feeds.opml",
    "healthz",
    "metrics",
    "index.html",
    "a" * 300,
]
PATH_SEGMENT = st.one_of(
    st.sampled_from(TRICKY_SEGMENTS),
    st.text(
        st.characters(min_codepoint=1, max_codepoint=0x10FFFF, exclude_categories=("Cs",)), min_size=1, max_size=20
    ).map(lambda text: quote(text, safe="%.~-_")),
)
# Segments are never empty: the test client would read a leading "//" as a host name, and fail itself.
PATHS = st.lists(PATH_SEGMENT, min_size=0, max_size=5).map(lambda segments: "/" + "/".join(segments))
# Header values arrive as latin-1 text; control characters would be refused by the client before the app.
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters=[chr(c) for c in range(0x7F, 0xA0)]),
    max_size=60,
)
ETAG_LIKE = st.sampled_from(['"', "W/", "*", '""', 'W/"x"', '"a", "b"', ",", "W/W/", '"abc"-gz'])
# "{etag}" and "{etag-gz}" stand for the requested document's own ETags, filled in by the test.
OWN_ETAGS = st.sampled_from(["{etag}", "{etag-gz}", "W/{etag}", '"x", {etag-gz}'])
HEADER_VALUES = {
    "If-None-Match": st.one_of(OWN_ETAGS, ETAG_LIKE, HEADER_TEXT),
    "If-Modified-Since": st.one_of(
        st.datetimes(timezones=st.just(UTC)).map(http_date),
        st.sampled_from(["Sun, 01 Nov 9999 00:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 +9999", "0"]),
        HEADER_TEXT,
    ),
    "Accept": st.one_of(
        st.sampled_from([BROWSER_ACCEPT, READER_ACCEPT, "text/html;q=nan", "*/*;q=2", ";;;"]), HEADER_TEXT
    ),
    "Accept-Encoding": st.one_of(st.sampled_from(["gzip", "gzip;q=0", "gzip;q=abc", "*;q=0", "br, gzip"]), HEADER_TEXT),
    "Range": st.one_of(st.sampled_from(["bytes=0-10", "bytes=-5", "bytes=abc", "bytes=9999999-"]), HEADER_TEXT),
}
HEADERS = st.fixed_dictionaries({}, optional=HEADER_VALUES)


@hypothesis_settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure here is reproducible, never flaky
    database=None,  # write nothing into the working tree
    # The app and store are only read by requests, so sharing them across examples is sound.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(path=st.one_of(st.sampled_from(FEED_PATHS), PATHS), headers=HEADERS, method=st.sampled_from(["GET", "HEAD"]))
@example(path="/feeds/all.rss", headers={}, method="GET")  # a 200 feed answer, whose body is checked
def test_random_requests_never_get_5xx_and_feeds_match_their_etag(
    site: Refresher, client: FlaskClient, path: str, headers: dict[str, str], method: str
) -> None:
    """Random paths and header values never get a 5xx, and every 200 feed body matches its ETag."""
    document = site.store.snapshot.documents.get(path.removeprefix("/"))
    etag = document.etag if document is not None else '"none"'
    gz_etag = etag[:-1] + '-gz"'
    headers = {name: value.replace("{etag-gz}", gz_etag).replace("{etag}", etag) for name, value in headers.items()}
    response = client.open(path, method=method, headers=headers)
    assert response.status_code < 500, (path, headers, response.status_code)
    if response.status_code == 200 and method == "GET" and path.startswith("/feeds/"):
        media_type = response.headers["Content-Type"]
        assert response.headers["ETag"] == expected_etag(response, media_type)
        if document is not None and media_type != "text/html; charset=utf-8":  # not a browser's HTML view
            assert plain_body(response) == document.body
