"""One refresh and its parts: scan → log problems → update the catalog → render what changed → swap the snapshot.

`refresher.Refresher` runs the steps; each part has one job: `scanner` (which paths to
look at, the worker processes), `problems` (each problem logged once), `bodies` (an
article's body read again and rendered), `contents` (the content of the articles feeds
show), `rendered` (documents re-rendered only when their inputs change), `cachewriter`
(what the parse cache must learn, written later), `archiveview` (what archive pages are
made from), `memory` (freed memory given back). Nothing here serves HTTP or runs a
schedule.
"""
