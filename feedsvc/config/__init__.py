"""The settings, validated before anything starts. Other modules import them from here.

`settings` declares every key, `checks` reads one value, `file` turns a config file into
`Settings`, `overlay` fills in what a Hexo site's `_config.yml` gives, and `reference`
writes the README's table of keys (`python -m feedsvc.config.reference README.md`).
"""

from feedsvc.config.checks import (
    ID_CHOICES,
    PERMALINK_FIELDS,
    PERMALINK_FORMATTER,
    RESERVED_SLUGS,
    fold_name,
    front_matter_text,
)
from feedsvc.config.file import (
    DEFAULT_PATH,
    config_path,
    is_local_host,
    listening_url,
    load_settings,
    parse_settings,
)
from feedsvc.config.overlay import FEED_LIMIT_ALL, POSTS_DIR, SITE_CONFIG, load_site
from feedsvc.config.settings import (
    CATEGORY_KEYS,
    CONTENT_MODES,
    DEFAULT_EXTENSIONS,
    SETTINGS,
    CategorySettings,
    EntitySettings,
    Setting,
    Settings,
)
from feedsvc.worker import CONFIG_VAR as ENV_VAR
from feedsvc.worker import FEED_URL_VAR

__all__ = [
    "CATEGORY_KEYS",
    "CONTENT_MODES",
    "DEFAULT_EXTENSIONS",
    "DEFAULT_PATH",
    "ENV_VAR",
    "FEED_LIMIT_ALL",
    "FEED_URL_VAR",
    "ID_CHOICES",
    "PERMALINK_FIELDS",
    "PERMALINK_FORMATTER",
    "POSTS_DIR",
    "RESERVED_SLUGS",
    "SETTINGS",
    "SITE_CONFIG",
    "CategorySettings",
    "EntitySettings",
    "Setting",
    "Settings",
    "config_path",
    "fold_name",
    "front_matter_text",
    "is_local_host",
    "listening_url",
    "load_settings",
    "load_site",
    "parse_settings",
]
