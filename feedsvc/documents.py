"""Turn rendered bytes into servable documents: compressed once, with a strong ETag."""

from __future__ import annotations

import gzip
import hashlib
from datetime import datetime

from feedsvc.model import Document

# Level 6 is zlib's default trade-off; mtime=0 keeps the gzip bytes reproducible.
GZIP_LEVEL = 6


def make_document(body: bytes, media_type: str, last_modified: datetime | None = None) -> Document:
    """Compress `body` and compute its ETag, a hash of the uncompressed bytes."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Document(
        body=body,
        gzip_body=gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0),
        etag=etag,
        media_type=media_type,
        last_modified=last_modified,
    )
