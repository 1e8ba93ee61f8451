"""An article's content made from its file: its body read again, for the version the index holds, and rendered.

Bodies are not kept in the index (100,000 of them would not fit): this is how the
feeds and the archive pages get one back. It never changes the index it reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from feedsvc.config import Settings
from feedsvc.index.scan import ContentIndex, read_source
from feedsvc.model import Article, ArticleContent
from feedsvc.parse.articles import digest, read_body
from feedsvc.parse.body import post_finder, render_content


class BodyReader:
    """Reads articles' bodies again from their files, as one index knows them, and renders them as the settings say."""

    def __init__(self, settings: Settings, index: ContentIndex) -> None:
        self.settings = settings
        self.index = index
        self._lock = threading.Lock()
        # Hexo's post_link and post_path find other posts: made from the index when first needed.
        self._find: Callable[[str], tuple[str, str] | None] | None = None

    def holds(self, article: Article) -> bool:
        """Tell whether the index publishes this version of the article (its file may hold it still)."""
        entry = self.index.entries.get(article.source)
        current = entry.article if entry is not None else None
        return current is not None and current.fingerprint == article.fingerprint

    def read(self, article: Article) -> str | None:
        """Read an article's file again for its body, if it still holds the version the index has."""
        entry = self.index.entries.get(article.source)
        if entry is None:
            return None
        raw = read_source(self.settings.content_dir, article.source, entry, self.settings.max_file_bytes)
        if raw is None or digest(raw) != article.fingerprint.split(":", 1)[0]:
            return None
        return read_body(raw)

    def render(self, article: Article, body: str) -> ArticleContent:
        """Render an article's body as the settings say, for its feeds and its archive pages alike."""
        settings = self.settings
        return render_content(
            article,
            body,
            summary_chars=settings.summary_chars,
            max_depth=settings.max_depth,
            max_html_bytes=settings.max_html_bytes,
            hexo_tags=settings.hexo_tags,
            root=settings.site_link,
            find_post=self._find_post,
        )

    def _find_post(self, name: str) -> tuple[str, str] | None:
        """Find another post for Hexo's post_link and post_path, in the index (read only when asked)."""
        with self._lock:
            if self._find is None:
                articles = (entry.article for entry in self.index.entries.values() if entry.article is not None)
                self._find = post_finder(articles)
            find = self._find
        return find(name)
