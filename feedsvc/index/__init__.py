"""The content directory: which files there are, what changed, what each parsed to.

The scan (and its worker processes), filesystem events, the persistent parse cache and
progress reports. It is given the parser; it never renders a feed.
"""
