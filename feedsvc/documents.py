"""Turn rendered bytes into servable documents with a strong ETag."""

from __future__ import annotations

import hashlib
from datetime import datetime

from feedsvc.model import Document


def make_document(
    body: bytes, media_type: str, last_modified: datetime | None = None, *, immutable: bool = False
) -> Document:
    """Wrap `body` with its ETag, a hash of the uncompressed bytes (the gzip form follows on first use)."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Document(body=body, etag=etag, media_type=media_type, last_modified=last_modified, immutable=immutable)
