"""Articles to documents: the catalog of feeds, each feed's documents in every format,
its archive pages, the index page and OPML.

Nothing here reads the disk or parses content: it is given articles and their content.
"""
