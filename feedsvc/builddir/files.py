"""Write a snapshot as static files laid out like the URLs, each replaced atomically; remove only listed files.

Beside each feed goes its HTML view (`feeds/finance.rss.html`), for a static server told to send it to browsers.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from feedsvc.builddir.storage import ObjectHeaders, Storage
from feedsvc.builddir.storage import remove_unlisted as remove_unlisted  # noqa: PLC0414 - the same
from feedsvc.builddir.storage import write_atomically as write_atomically  # noqa: PLC0414 - the same
from feedsvc.feeds.views import view_document, view_path
from feedsvc.model import Document, Snapshot, cache_control


def headers_of(document: Document, max_age: int, *, encoding: str | None = None) -> ObjectHeaders:
    """Return the headers a document is stored with: its media type, and the Cache-Control `serve` sends it with."""
    return ObjectHeaders(document.media_type, cache_control(document, max_age), encoding)


def write_documents(snapshot: Snapshot, out: Storage, unchanged: Mapping[str, str] | None = None) -> int:
    """Write every document of a snapshot to `out`; return how many files changed.

    A document whose ETag `unchanged` (what was written last) gives is skipped without
    a look at the storage; a directory compares the others with the file first.
    """
    known = unchanged or {}
    changed = [
        (relative, document)
        for relative, document in sorted(snapshot.documents.items())
        if known.get(relative) != document.etag
    ]

    def write(item: tuple[str, Document]) -> bool:
        relative, document = item
        return out.write(relative, document.body, headers_of(document, snapshot.max_age))

    if out.writers <= 1 or len(changed) <= 1:
        return sum(write(item) for item in changed)
    with ThreadPoolExecutor(max_workers=out.writers, thread_name_prefix="feedsvc-upload") as pool:
        return sum(pool.map(write, changed))


def views_of(snapshot: Snapshot) -> dict[str, str]:
    """Return the HTML views a build of the snapshot holds: each view's file, and the feed it shows.

    Every current feed has one; archive pages have none in a build (thousands, stored compressed):
    `serve` and `serve --from` make theirs when a browser asks.
    """
    return {view_path(path): path for path in sorted(snapshot.documents) if path.startswith("feeds/")}


def write_views(snapshot: Snapshot, out: Storage, unchanged: Mapping[str, str] | None = None) -> int:
    """Write the HTML view beside every feed of a snapshot; return how many files changed.

    A view is a function of its feed's bytes: a feed with the ETag `unchanged` gives it
    (what was written last) keeps the view written then, and is not read again.
    """
    written = 0
    known = unchanged or {}
    for relative, path in views_of(snapshot).items():
        document = snapshot.documents[path]
        if known.get(path) == document.etag:
            continue
        view = view_document(path, document)
        if view is not None:
            written += out.write(relative, view.body, headers_of(view, snapshot.max_age))
    return written
