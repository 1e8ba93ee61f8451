"""feedsvc: publish a directory of Markdown articles as RSS 2.0, Atom 1.0 and JSON Feed 1.1."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("feedsvc")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0"
