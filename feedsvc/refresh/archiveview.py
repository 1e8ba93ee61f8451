"""What one snapshot's archive pages are made of: a read-only view, built at each refresh.

The view holds each feed's articles as the catalog held them when the snapshot was
made, the feeds' article contents of that refresh and a reader of files as its index
knew them; the render thread (or a build) reads only the view, never the refresher's
state, which the next refresh replaces. The view reaches readers inside the snapshot,
swapped whole with it. A page's other contents come from a few recent ones, or from
the article's file again.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from feedsvc.config import Settings
from feedsvc.feeds.archives import Archives, PageCache, RenderQueue
from feedsvc.feeds.catalog import Catalog, CatalogState
from feedsvc.index.cache import settings_identity
from feedsvc.model import Article, ArticleContent, Document, Feed, Format, Paging
from feedsvc.refresh.bodies import BodyReader
from feedsvc.refresh.contents import ContentKey, content_key
from feedsvc.refresh.memory import release_memory
from feedsvc.refresh.rendered import feed_document

log = logging.getLogger("feedsvc.refresh")

# Article contents kept for archive pages. `serve` makes a page now and then: a few pages' worth.
# A build makes them all, an article's pages (in `all` and in each of its categories) near each
# other but not together: a few thousand cover that (about 40 MB of content at most).
ARCHIVE_CONTENTS = 200
BUILD_ARCHIVE_CONTENTS = 4096


class RecentContents:
    """The article contents the last archive pages used, least recently used out first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._contents: OrderedDict[ContentKey, ArticleContent] = OrderedDict()

    def get(self, key: ContentKey) -> ArticleContent | None:
        """Return the content kept for an article version, if any."""
        with self._lock:
            return self._contents.get(key)

    def keep(self, key: ContentKey, content: ArticleContent) -> None:
        """Keep a content as the most recently used; the least recently used go beyond the size."""
        with self._lock:
            self._contents[key] = content
            self._contents.move_to_end(key)
            while len(self._contents) > self.size:
                self._contents.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._contents)


@dataclass(frozen=True, slots=True, eq=False)
class SnapshotArchive:
    """One snapshot's archive pages' inputs, read-only; renders a page from them (an `ArchiveView`).

    `contents` are the feeds' contents of the snapshot's refresh, `reader` reads files
    as its index knew them; `trim` gives back the memory a page took (`serve`), not
    in a build, which makes every page in a row.
    """

    feeds: Mapping[str, Feed]
    shelves: Mapping[str | None, Sequence[Article]]
    version: int
    contents: Mapping[ContentKey, ArticleContent]
    reader: BodyReader
    recent: RecentContents
    trim: bool = True

    def render(self, feed: Feed, fmt: Format, paging: Paging) -> Document:
        """Render an archive page (one at a time: the caller holds the page cache's render lock).

        Its 50 articles' bodies, HTML trees and feedgen's elements are garbage after it: given
        back to the system (as after a large scan), or pages asked for by a crawler would leave
        a serving process tens of MB larger than its page cache.
        """
        document = feed_document(feed, fmt, self.reader.settings, self.content, paging)
        if self.trim:
            release_memory()
        return document

    def content(self, article: Article) -> ArticleContent:
        """Return the content of an article on an archive page: the feeds', a recent one, or made from its file."""
        key = content_key(article)
        content = self.contents.get(key) or self.recent.get(key)
        if content is not None:
            self.recent.keep(key, content)
            return content
        body = self.reader.read(article)
        if body is None:
            log.warning("%s: its body cannot be read again; archived without content", article.source)
            return ArticleContent(html="", summary=article.summary or "", image=article.image)
        content = self.reader.render(article, body)
        self.recent.keep(key, content)
        return content


class ArchivePages:
    """Gives each snapshot its archive pages, sharing the page cache, the render thread and recent contents."""

    def __init__(self, settings: Settings, *, for_build: bool = False) -> None:
        self.settings = settings
        self.pages = PageCache()
        self.renders = RenderQueue(self.pages)  # archive pages `serve` is asked for, made off the request thread
        self._recent = RecentContents(BUILD_ARCHIVE_CONTENTS if for_build else ARCHIVE_CONTENTS)
        self._trim = not for_build
        self._identity = settings_identity(settings)  # part of every archive page's key
        # The last catalog version's shelves and page keys: a snapshot of the same version shares them.
        self._shelved: tuple[int, dict[str | None, Sequence[Article]], dict[str, str]] | None = None
        self._copied: dict[str | None, int] = {}  # the version of each list the shelves copied

    def archives(
        self,
        catalog: Catalog,
        state: CatalogState,
        contents: Mapping[ContentKey, ArticleContent],
        reader: BodyReader,
    ) -> Archives | None:
        """Return the archive pages of a snapshot's feeds, made when first asked for (None when archives are off).

        They read the feeds' articles as the catalog holds them now (a view of each feed's list,
        taken when it changed): the render thread and request threads never look at the catalog,
        which the next refresh changes.
        """
        if self.settings.archive_size <= 0:
            return None
        version = state.version
        if self._shelved is None or self._shelved[0] != version:
            # Only the lists that changed are viewed again (an edit: `all` and the article's categories),
            # the others shared with the last snapshot: a refresh costs what it changed, not every list.
            before = {} if self._shelved is None else self._shelved[1]
            shelves: dict[str | None, Sequence[Article]] = {}
            copied: dict[str | None, int] = {}
            for feed in catalog.feeds:
                name = feed.spec.category
                copied[name] = state.shelf_version(name)
                kept = before.get(name)
                if kept is not None and self._copied.get(name) == copied[name]:
                    shelves[name] = kept
                else:
                    shelves[name] = state.shelf(name)  # its chunks are copied, not its articles
            self._shelved, self._copied = (version, shelves, {}), copied
        _, shelves, keys = self._shelved
        view = SnapshotArchive(
            feeds={feed.spec.slug: feed for feed in catalog.feeds},
            shelves=shelves,
            version=version,
            contents=contents,
            reader=reader,
            recent=self._recent,
            trim=self._trim,
        )
        return Archives(view, size=self.settings.archive_size, renders=self.renders, identity=self._identity, keys=keys)
