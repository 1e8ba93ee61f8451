"""The exceptions feedsvc raises on purpose, in one hierarchy under FeedsvcError. Imports nothing of feedsvc.

Those about bad input are ValueErrors as well, so that code treating bad input as a
value error (`except ValueError`) keeps catching them.
"""


class FeedsvcError(Exception):
    """Base of feedsvc's own errors."""


class ConfigError(FeedsvcError):
    """The configuration cannot be used; the message names the file and the key."""


class SiteConfigError(FeedsvcError, ValueError):
    """A Hexo `_config.yml` value feedsvc cannot use; the message reads `key: what is wrong (expected …)`."""


class YamlError(FeedsvcError, ValueError):
    """YAML that cannot be used, with a message that says where and why."""


class NotText(FeedsvcError, ValueError):
    """Bytes that are not text in any encoding feedsvc reads."""


class NotADate(FeedsvcError, ValueError):
    """A value that cannot be read as a date; the message says what it was."""


class BuildError(FeedsvcError, ValueError):
    """A build directory that cannot be served (yet): no manifest, a broken one, or files mid-update."""


class PageNotReady(FeedsvcError):
    """An archive page is being made and was not ready in time: ask again in `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the page is being made; ask again in {retry_after} s")
        self.retry_after = retry_after


class RefreshStopped(FeedsvcError):
    """A refresh ended early because the service is stopping; the feeds served did not change."""


class InvalidValue(FeedsvcError, ValueError):
    """A configuration value that does not fit its key; the message says what was expected."""


class UnusualScalar(FeedsvcError, LookupError):
    """A plain YAML scalar of a type only the full loader makes (a float, an octal number, `<<`…)."""
