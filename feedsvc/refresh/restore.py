"""What a restart serves before its first refresh ends: the documents the last run served, from the parse cache.

A refresh at a restart reads the whole index back and looks at every file: seconds
at 100,000 articles, a minute or more at a million. Meanwhile the service answers
with the documents its last run served (the same bytes and ETags, as nothing is
made again), stored with the facts of their snapshot: redirects, counts. Archive
pages are not among them: until the first refresh ends they answer "ask again".
"""

from __future__ import annotations

from typing import Any

from feedsvc.config import Settings
from feedsvc.errors import PageNotReady
from feedsvc.index.cache import Cache
from feedsvc.model import Document, Snapshot

# Seconds a client is told to wait before asking again for an archive page of a restored snapshot.
RETRY_AFTER_SECONDS = 5


def served_facts(snapshot: Snapshot) -> dict[str, Any]:
    """Return what a restart needs, besides the documents, to serve a snapshot again: JSON-ready."""
    return {
        "redirects": dict(sorted(snapshot.redirects.items())),
        "permanent_redirects": sorted(snapshot.permanent_redirects),
        "articles": snapshot.articles,
        "held": snapshot.held,
    }


class ArchivesAfterFirstRefresh:
    """The archive pages of a restored snapshot: none until the first refresh has read the index."""

    def document(self, path: str) -> Document | None:
        """Raise PageNotReady: the page can be made once the first refresh has ended.

        Raises:
            PageNotReady: always.
        """
        raise PageNotReady(RETRY_AFTER_SECONDS)


def restored_snapshot(cache: Cache | None, settings: Settings) -> Snapshot | None:
    """Return the snapshot the last run over the same settings served, or None if the cache holds none."""
    if cache is None:
        return None
    served = cache.served()
    if served is None:
        return None
    documents, facts = served
    try:
        redirects = {str(name): str(slug) for name, slug in facts["redirects"].items()}
        permanent = frozenset(str(name) for name in facts["permanent_redirects"])
        articles, held = int(facts["articles"]), int(facts["held"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None  # facts of an older feedsvc: the first refresh serves instead
    return Snapshot(
        documents=documents,
        redirects=redirects,
        permanent_redirects=permanent,
        max_age=settings.interval_seconds,
        articles=articles,
        held=held,
        feed_documents=sum(1 for path in documents if path.startswith("feeds/")),
        hub=settings.websub_hub or None,
        feed_url=settings.feed_url,
        archives=ArchivesAfterFirstRefresh(),
        restored=True,
    )
