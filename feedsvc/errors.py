"""The exceptions feedsvc raises on purpose."""


class FeedsvcError(Exception):
    """Base of feedsvc's own errors."""


class ConfigError(FeedsvcError):
    """The configuration cannot be used; the message names the file and the key."""
