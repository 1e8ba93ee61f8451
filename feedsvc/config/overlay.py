"""The settings a config file leaves out, filled in from a Hexo site's `_config.yml` (`content.hexo`)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from feedsvc.config import checks
from feedsvc.config.settings import SETTINGS_BY_KEY
from feedsvc.errors import ConfigError
from feedsvc.hexo.site import FEED_CONTENT, HexoSite, SiteConfigError, parse_site_config
from feedsvc.safeyaml import YamlError, load_yaml

SITE_CONFIG = "_config.yml"
POSTS_DIR = Path("source") / "_posts"
FEED_LIMIT_ALL = 10_000  # hexo-generator-feed's `limit: 0` (every post), as far as feeds.limit goes


def load_site(site_dir: Path) -> HexoSite:
    """Read a Hexo site's `_config.yml` with the safe YAML loader.

    Raises:
        ConfigError: the file is missing, not YAML, or holds a value feedsvc cannot use.
    """
    path = site_dir / SITE_CONFIG
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise ConfigError(
            f"{path}: cannot be read: {error.strerror or error} (expected a Hexo site folder, for content.hexo)"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: is not UTF-8 text (expected Hexo's YAML config)") from None
    try:
        return parse_site_config(load_yaml(text))
    except (YamlError, SiteConfigError) as error:
        raise ConfigError(f"{path}: {error}") from None


def overlay(site: HexoSite, site_dir: Path, values: dict[str, Any], source: str) -> tuple[str, ...]:
    """Fill the settings this file leaves out from the Hexo site; return what was taken, one line each.

    Raises:
        ConfigError: a site value that is no value of the setting it fills, naming `_config.yml`.
    """
    path = site_dir / SITE_CONFIG
    offered: list[tuple[str, str, Any]] = [  # (Hexo's key, feedsvc's setting, the value)
        ("url", "site.link", site.url + "/"),
        ("title", "site.title", site.title),
        ("author", "site.author", site.author),
        ("language", "site.language", site.language),
        ("timezone", "site.timezone", site.timezone or None),
        ("feed.hub", "websub.hub", site.feed_hub),
        ("feed.content", "feeds.content", None if site.feed_content is None else FEED_CONTENT[site.feed_content]),
        (
            "feed.limit",
            "feeds.limit",
            None if site.feed_limit is None else min(site.feed_limit or FEED_LIMIT_ALL, FEED_LIMIT_ALL),
        ),
    ]
    notes = [f"{path}: source/_posts -> content.dir"]
    if "content.dir" in values:
        notes[0] += f" (not used: {source} sets content.dir)"
    else:
        values["content.dir"] = site_dir / POSTS_DIR
    # Hexo renders Markdown posts; other files under _posts (a `.txt` beside a post) are assets,
    # and with post_asset_folder only files named like new_post_name are posts.
    if "content.extensions" not in values:
        post_type = PurePosixPath(site.new_post_name).suffix.lower() or ".md"
        extensions = (post_type,) if site.post_asset_folder else tuple(dict.fromkeys((".md", ".markdown", post_type)))
        values["content.extensions"] = SETTINGS_BY_KEY["content.extensions"].check(list(extensions))
        notes.append(f"{path}: posts are {', '.join('*' + e for e in extensions)} files -> content.extensions")
    for key, target, value in offered:
        if value is None:
            continue
        shown = dict(site.read).get(key, repr(value))
        if target in values:
            notes.append(f"{path}: {key}: {shown} (not used: {source} sets {target})")
            continue
        try:
            values[target] = SETTINGS_BY_KEY[target].check(value)
        except checks.Invalid as error:
            if key == "language":  # Hexo takes names such as `default`: the feeds keep feedsvc's default
                notes.append(f"{path}: {key}: {shown} (not used: {error})")
                continue
            raise ConfigError(f"{path}: {key}: {error}") from None
        notes.append(f"{path}: {key}: {shown} -> {target}")
    permalink_target = "content.permalink"
    uses = {
        "root": "links inside articles",
        "permalink": permalink_target,
        "permalink_defaults": permalink_target,
        "pretty_urls": permalink_target,
        "post_asset_folder": permalink_target,
        "default_category": "the permalink's :category",
        "category_map": "the permalink's :category",
        "tag_map": "nothing (tags have no URLs in feeds)",
        "new_post_name": "dates and :title from file names",
        "future": "future-dated posts are published at once" if site.future else "future-dated posts wait",
        "feed.order_by": "nothing (feeds are ordered by date)",
    }
    for key, shown in site.read:
        use = uses.get(key)
        if use is None:
            continue
        if use == permalink_target and permalink_target in values:
            notes.append(f"{path}: {key}: {shown} (not used: {source} sets {permalink_target})")
        else:
            notes.append(f"{path}: {key}: {shown} -> {use}")
    return tuple(notes)
