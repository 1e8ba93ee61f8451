"""The bundled examples and the default config: what `make run` serves to a new user."""

from __future__ import annotations

import re

import feedparser

from feedsvc.config import load_settings
from feedsvc.model import Article
from feedsvc.parse.articles import parse_article
from feedsvc.refresh.refresher import Refresher
from feedsvc.store import Store
from tests.conftest import NOW, ROOT, Clock


def _articles() -> list[Article]:
    settings = load_settings(ROOT / "config" / "feedsvc.yaml")
    root = settings.content_dir
    results = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(settings.extensions)):
        source = path.relative_to(root).as_posix()
        result = parse_article(path.read_bytes(), source=source, mtime=path.stat().st_mtime, settings=settings)
        assert isinstance(result, Article), result
        results.append(result)
    return results


def test_examples_cover_what_a_new_user_should_see() -> None:
    """At least 30 articles in 5 categories, Chinese and English titles, thumbnails, a draft and a far-future one."""
    articles = _articles()
    assert len(articles) >= 30
    assert len({c for a in articles for c in a.categories}) >= 5
    assert any(re.search(r"[\u4e00-\u9fff]", a.title) for a in articles)
    assert any(re.fullmatch(r"[\x20-\x7e]+", a.title) for a in articles)
    assert sum(1 for a in articles if a.image) >= 20
    assert any(a.draft for a in articles)
    assert any(a.published.year >= 2099 for a in articles)


def test_default_config_serves_the_examples_as_valid_feeds() -> None:
    """Every feed of the default config parses without error, holds no draft and no future article."""
    settings = load_settings(ROOT / "config" / "feedsvc.yaml")
    store = Store()
    report = Refresher(settings, store, clock=Clock(NOW)).refresh()
    snapshot = report.snapshot
    assert snapshot.problems == ()
    assert snapshot.degraded is None
    feeds = {path: document for path, document in snapshot.documents.items() if path.endswith((".rss", ".atom"))}
    assert len(feeds) > 2
    for path, document in feeds.items():
        parsed = feedparser.parse(document.body)
        assert not parsed.bozo, (path, parsed.get("bozo_exception"))
        titles = " ".join(e.title for e in parsed.entries)
        assert "草稿" not in titles
        assert "2099" not in titles
    assert 0 < len(feedparser.parse(snapshot.documents["feeds/all.rss"].body).entries) <= snapshot.articles
    assert "feeds/finance.rss" in snapshot.documents
    assert snapshot.redirects["头条"] == "headlines"
