"""The config file: which one is read, its YAML, and its mapping turned into `Settings`.

`parse_settings` is pure apart from reading a Hexo site's `_config.yml`; `load_settings` reads the
file. Every refusal names the file and the key.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from feedsvc.config import checks
from feedsvc.config.overlay import load_site, overlay
from feedsvc.config.settings import (
    CATEGORY_KEYS,
    CATEGORY_SETTINGS,
    ENTITY_KEYS,
    ENTITY_SETTINGS,
    KIND_FOLDERS,
    NAMED_SECTIONS,
    SECTIONS,
    SETTINGS,
    SETTINGS_BY_KEY,
    CategorySettings,
    EntitySettings,
    Settings,
)
from feedsvc.errors import ConfigError
from feedsvc.hexo.site import HexoSite
from feedsvc.safeyaml import YamlError, load_yaml
from feedsvc.worker import CONFIG_VAR as ENV_VAR
from feedsvc.worker import FEED_URL_VAR

DEFAULT_PATH = Path("config") / "feedsvc.yaml"


_CATEGORY_CHECKS = {setting.attribute: setting.check for setting in CATEGORY_SETTINGS}
_ENTITY_CHECKS = {setting.attribute: setting.check for setting in ENTITY_SETTINGS}
# What one of a section's names is, in messages.
_NAME_OF = {"categories": "category", "tags": "tag", "authors": "author"}


def _fields(
    checks_of: Mapping[str, Callable[[Any], Any]], at: str, value: dict[Any, Any], where: Callable[[str], str]
) -> dict[str, Any]:
    """Read the keys of one category, tag, author or entity kind, each by its check."""
    fields: dict[str, Any] = {}
    for key, item in value.items():
        full = f"{at}.{key}"
        if key not in checks_of:
            raise ConfigError(f"{where(full)}: unknown key (expected one of: {', '.join(checks_of)})")
        if item is None:
            continue
        try:
            fields[str(key)] = checks_of[str(key)](item)
        except checks.Invalid as error:
            raise ConfigError(f"{where(full)}: {error}") from None
    return fields


def _category(section: str, name: str, value: Any, where: Callable[[str], str]) -> CategorySettings:
    if value is None:
        return CategorySettings(name=name)
    if not isinstance(value, dict):
        expected = ", ".join(CATEGORY_KEYS)
        raise ConfigError(
            f"{where(f'{section}.{name}')}: {checks.shown(value)} is not a mapping (expected keys {expected})"
        )
    return CategorySettings(name=name, **_fields(_CATEGORY_CHECKS, f"{section}.{name}", value, where))


def _categories(data: Any, where: Callable[[str], str], section: str = "categories") -> tuple[CategorySettings, ...]:
    """Read a section of names configured like `categories:` (also `tags:` and `authors:`)."""
    noun = _NAME_OF[section]
    if data is None:
        return ()
    if not isinstance(data, dict):
        raise ConfigError(f"{where(section)}: {checks.shown(data)} is not a mapping (expected {noun} names as keys)")
    result: list[CategorySettings] = []
    for raw_name, value in data.items():
        if raw_name is None or isinstance(raw_name, list | dict | tuple):
            raise ConfigError(f"{where(section)}: {checks.shown(raw_name)} is not a {noun} name (expected text)")
        name = checks.category_name(raw_name)
        if not name:
            raise ConfigError(f"{where(section)}: an empty {noun} name (expected text)")
        if any(category.name == name for category in result):
            # `1` and `'1'`, or `a` and `' a'`, are one name in front matter.
            raise ConfigError(f"{where(f'{section}.{name}')}: {name!r} is configured twice (expected each name once)")
        result.append(_category(section, name, value, where))
    _check_categories(result, where, section)
    return tuple(result)


def _check_categories(categories: list[CategorySettings], where: Callable[[str], str], section: str) -> None:
    """Refuse two categories (tags, authors) that would share a slug, or a name that means two of them."""
    noun = _NAME_OF[section]
    slugs: dict[str, str] = {}
    # Names are compared folded: `News` and `ｎｅｗｓ` in front matter are one category.
    names: dict[str, str] = {}
    for category in categories:
        other = names.setdefault(checks.fold_name(category.name), category.name)
        if other != category.name:
            raise ConfigError(
                f"{where(f'{section}.{category.name}')}: {category.name!r} is the same {noun} as "
                f"{other!r}: names that differ only by case, width or spacing are one (expected each name once)"
            )
    for category in categories:
        if category.slug is not None:
            if category.slug in slugs:
                raise ConfigError(
                    f"{where(f'{section}.{category.name}.slug')}: {category.slug!r} is also the slug of "
                    f"{slugs[category.slug]!r} (expected a slug per {noun})"
                )
            slugs[category.slug] = category.name
        for alias in category.aliases:
            other = names.setdefault(checks.fold_name(alias), category.name)
            if other != category.name:
                raise ConfigError(
                    f"{where(f'{section}.{category.name}.aliases')}: {alias!r} already means "
                    f"{other!r} (expected each name to mean one {noun})"
                )


def _entities(data: Any, where: Callable[[str], str]) -> tuple[EntitySettings, ...]:
    """Read `entities:`, a mapping of kind names (`stocks`) to how bodies name one and how its feeds are titled."""
    if data is None:
        return ()
    if not isinstance(data, dict):
        raise ConfigError(f"{where('entities')}: {checks.shown(data)} is not a mapping (expected kind names as keys)")
    result: list[EntitySettings] = []
    for raw_name, value in data.items():
        try:
            name = checks.kind_name(raw_name)
        except checks.Invalid as error:
            raise ConfigError(f"{where('entities')}: {error}") from None
        if name in KIND_FOLDERS:
            raise ConfigError(
                f"{where(f'entities.{name}')}: {name!r} is where {name} feeds are (expected another name, e.g. stocks)"
            )
        if not isinstance(value, dict):
            raise ConfigError(
                f"{where(f'entities.{name}')}: {checks.shown(value)} is not a mapping "
                f"(expected keys {', '.join(ENTITY_KEYS)}, `selector` at least)"
            )
        fields = _fields(_ENTITY_CHECKS, f"entities.{name}", value, where)
        if "selector" not in fields:
            raise ConfigError(f"{where(f'entities.{name}.selector')}: missing (expected a CSS selector such as a.x)")
        result.append(EntitySettings(name=name, **fields))
    return tuple(result)


def parse_settings(
    data: Any, *, source: str = "<defaults>", base_dir: Path | None = None, feed_url: str | None = None
) -> Settings:
    """Validate a parsed config mapping and fill in every default.

    `feed_url` replaces the default of `site.feed_url` (and so of `site.link`) when
    the mapping sets none: the address `feedsvc serve` listens on.

    Raises:
        ConfigError: an unknown key or a value of the wrong type; the message
            names the file and the key.
    """

    def where(key: str) -> str:
        return f"{source}: {key}"

    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the file is {type(data).__name__} (expected a mapping of sections: {', '.join(SECTIONS)})"
        )
    values: dict[str, Any] = {}
    given: set[str] = set()  # the keys this file sets itself: they win over a Hexo site's
    for section, body in data.items():
        if section in NAMED_SECTIONS or section == "entities":
            continue
        if section not in SECTIONS:
            raise ConfigError(f"{where(str(section))}: unknown section (expected one of: {', '.join(SECTIONS)})")
        if body is None:
            continue
        if not isinstance(body, dict):
            raise ConfigError(f"{where(str(section))}: {checks.shown(body)} is not a mapping (expected keys under it)")
        for key, value in body.items():
            full = f"{section}.{key}"
            setting = SETTINGS_BY_KEY.get(full)
            if setting is None:
                known = ", ".join(k.split(".", 1)[1] for k in SETTINGS_BY_KEY if k.startswith(section + "."))
                raise ConfigError(f"{where(full)}: unknown key (expected one of: {known})")
            if value is None:
                continue
            given.add(full)
            try:
                values[full] = setting.check(value)
            except checks.Invalid as error:
                raise ConfigError(f"{where(full)}: {error}") from None
    hexo: HexoSite | None = None
    notes: tuple[str, ...] = ()
    site_dir: Path | None = values.get("content.hexo")
    if site_dir is not None:
        if not site_dir.is_absolute():
            site_dir = Path(os.path.normpath((base_dir or Path.cwd()) / site_dir))
        values["content.hexo"] = site_dir
        hexo = load_site(site_dir)
        notes = overlay(hexo, site_dir, values, source)
    if feed_url and "site.feed_url" not in values:
        try:
            values["site.feed_url"] = checks.base_url(feed_url)
        except checks.Invalid as error:
            raise ConfigError(f"{FEED_URL_VAR}: {error}") from None
    for setting in SETTINGS:
        if setting.key not in values:
            values[setting.key] = setting.check(setting.default)
    # What an empty value stands for, and paths relative to the config file's folder.
    values["site.link"] = values["site.link"] or values["site.feed_url"]
    values["content.ids"] = values["content.ids"] or ("permalink" if hexo is not None else "front_matter")
    content_dir: Path = values["content.dir"]
    if not content_dir.is_absolute():
        content_dir = (base_dir or Path.cwd()) / content_dir
    values["content.dir"] = Path(os.path.normpath(content_dir))
    cache_dir: Path | None = values["cache.dir"]
    if cache_dir is not None and not cache_dir.is_absolute():
        values["cache.dir"] = Path(os.path.normpath((base_dir or Path.cwd()) / cache_dir))
    return Settings(
        **{setting.attribute: values[setting.key] for setting in SETTINGS},
        categories=_categories(data.get("categories"), where),
        tags=_categories(data.get("tags"), where, "tags"),
        authors=_categories(data.get("authors"), where, "authors"),
        entities=_entities(data.get("entities"), where),
        source=source,
        # Hexo hides every file and folder under _posts whose name starts with `_` (or `.`).
        hidden=(".", "_") if hexo is not None else (".",),
        given=tuple(sorted(given)),
        hexo=hexo,
        hexo_permalink=hexo is not None and "content.permalink" not in given,
        publish_future=hexo is not None and hexo.future,
        hexo_notes=notes,
    )


def config_path(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None) -> Path:
    """Choose the config file: `--config`, else $FEEDSVC_CONFIG, else config/feedsvc.yaml."""
    environ = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if environ.get(ENV_VAR):
        return Path(environ[ENV_VAR])
    return DEFAULT_PATH


def listening_url(host: str, port: int) -> str:
    """Return the base URL of a service listening on `host`:`port`, as a client on this machine reaches it.

    The wildcard addresses name no host a client can ask: 0.0.0.0 is shown as
    127.0.0.1 and :: as [::1].
    """
    bare = host.strip("[]")
    shown = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(bare, bare)  # noqa: S104 - compared, not bound
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def is_local_host(host: str) -> bool:
    """Tell whether a listening address is reachable only from this machine (loopback)."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return bare.lower() == "localhost"


def load_settings(path: str | os.PathLike[str], *, feed_url: str | None = None) -> Settings:
    """Read and validate the YAML config file at `path`; `feed_url` as in `parse_settings`.

    Raises:
        ConfigError: the file is missing, unreadable, not YAML, or not valid settings.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read: {error.strerror or error} (expected a YAML config file)") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: is not UTF-8 text (expected a YAML config file)") from None
    try:
        data = load_yaml(text)
    except YamlError as error:
        raise ConfigError(f"{path}: {error}") from None
    return parse_settings(data, source=str(path), base_dir=path.resolve().parent, feed_url=feed_url)
