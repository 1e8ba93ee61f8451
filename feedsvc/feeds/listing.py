"""Render the pages around the feeds: the HTML index with autodiscovery, OPML, the feeds' stylesheet and HTML views.

The only module that imports Jinja2. Pure: a catalog in, bytes out.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from importlib.resources import files
from typing import TYPE_CHECKING

from jinja2 import Environment, PackageLoader, StrictUndefined

from feedsvc.config import Settings
from feedsvc.model import Feed, Format, feed_path

if TYPE_CHECKING:
    from feedsvc.feeds.views import FeedView

FORMAT_NAMES = {Format.RSS: "RSS 2.0", Format.ATOM: "Atom 1.0", Format.JSON: "JSON Feed 1.1"}


# Templates ship inside the package: nothing is read from the content directory or the working directory.
_ENVIRONMENT = Environment(
    loader=PackageLoader("feedsvc", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def local_time(moment: datetime, settings: Settings) -> str:
    """Show a time in `site.timezone` as a page does: `2024-01-05 18:00 +08:00`, or `… UTC` at offset zero."""
    local = moment.astimezone(settings.timezone)
    offset = local.utcoffset() or timedelta(0)
    if not offset:
        return f"{local:%Y-%m-%d %H:%M} UTC"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{local:%Y-%m-%d %H:%M} {sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


_ENVIRONMENT.filters["local_time"] = local_time


def term_title(title: str, site_title: str) -> str:
    """Show a tag's, author's or entity's feed title without the site's name before it, as its kind lists it."""
    prefix = f"{site_title} - "
    return title[len(prefix) :] if title.startswith(prefix) and len(title) > len(prefix) else title


_ENVIRONMENT.filters["term_title"] = term_title
_INDEX_TEMPLATE = _ENVIRONMENT.get_template("index.html")
# One feed's entry on the index page: a macro, so that an entry is made once and kept while it shows the same.
_FEED_ITEM = _ENVIRONMENT.get_template("feed_item.html").module.feed_item  # type: ignore[attr-defined]
_VIEW_TEMPLATE = _ENVIRONMENT.get_template("feed.html")
# A feed's HTML view shows text from articles: whatever got past escaping could still run no
# script, load nothing but images, and send no form (the page's own style is inline).
VIEW_POLICY = "default-src 'none'; img-src http: https:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
# The XSLT stylesheet a browser shows RSS and Atom feeds with: the same bytes for every site.
FEED_STYLESHEET = files("feedsvc").joinpath("templates", "feed.xsl").read_bytes()


@dataclass(frozen=True, slots=True)
class FeedGroup:
    """The feeds of one kind, as the index page and the OPML list them: categories, tags, authors, stocks…"""

    kind: str  # "" for the categories (and `all`)
    label: str
    feeds: tuple[Feed, ...]


_LABELS = {"": "Categories", "tags": "Tags", "authors": "Authors"}
# A kind with more feeds than this (a site's thousands of tags or stocks) is listed folded on the index page.
FOLD_ABOVE = 30


def feed_groups(feeds: tuple[Feed, ...], settings: Settings) -> tuple[FeedGroup, ...]:
    """Group feeds by kind, in the catalog's order: categories (with `all`), tags, authors, then each entity kind."""
    labels = dict(_LABELS)
    labels.update((kind.name, kind.label or kind.name.capitalize()) for kind in settings.entities)
    kinds: dict[str, list[Feed]] = {}
    for feed in feeds:
        kinds.setdefault(feed.spec.kind, []).append(feed)
    return tuple(FeedGroup(kind, labels.get(kind, kind), tuple(members)) for kind, members in kinds.items())


def shows_subscribers(settings: Settings) -> bool:
    """Tell whether the index page shows each feed's subscribers (fetched from `/stats.json` by the page)."""
    return settings.stats_enabled and settings.stats_index_page


class IndexItems:
    """Each feed's entry on the index page, made again only for a feed whose entry would show something else.

    An entry shows the feed's spec, its size and its newest article: an edit changes a
    few feeds' entries, and the page is put together again from the others as they were.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._made: dict[Hashable, str] = {}

    def of(self, feeds: tuple[Feed, ...]) -> dict[str, str]:
        """Return the entry of every feed, by slug; those of feeds no longer listed are forgotten."""
        settings = self.settings
        counted = shows_subscribers(settings)  # the same for every entry while the settings are
        formats = list(Format)
        made: dict[Hashable, str] = {}
        items: dict[str, str] = {}
        for feed in feeds:
            newest = feed.articles[0] if feed.articles else None
            shown = None if newest is None else (newest.link, newest.title, newest.published)
            key = (feed.spec, feed.total, shown)
            item = self._made.get(key)
            if item is None:
                item = _FEED_ITEM(feed, feed.spec.kind, settings.site_title, counted, formats, FORMAT_NAMES, settings)
            made[key] = items[feed.spec.slug] = item
        self._made = made
        return items


def render_index(feeds: tuple[Feed, ...], settings: Settings, items: IndexItems | None = None) -> bytes:
    """Render the HTML page that lists every feed by kind; autodiscovery links name the categories' (and `all`).

    `items` keeps the feeds' entries from one page to the next (a refresh's); without it every one is made.
    """
    html = _INDEX_TEMPLATE.render(
        title=settings.site_title,
        site_link=settings.site_link,
        language=settings.language,
        feeds=feeds,
        groups=feed_groups(feeds, settings),
        fold_above=FOLD_ABOVE,
        formats=list(Format),
        names=FORMAT_NAMES,
        counted=shows_subscribers(settings),
        items=(items or IndexItems(settings)).of(feeds),
    )
    return html.encode("utf-8")


def render_view(view: FeedView) -> bytes:
    """Render a feed document's HTML view: what the feeds' stylesheet shows, made on the server."""
    return _VIEW_TEMPLATE.render(view=view, policy=VIEW_POLICY).encode("utf-8")


def render_opml(feeds: tuple[Feed, ...], settings: Settings, updated: datetime | None) -> bytes:
    """Render OPML 2.0 with one outline per feed and format, grouped by format, then by kind.

    Categories (and `all`) are right under their format; tags, authors and each entity kind
    have an outline of their own there.
    """
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = f"{settings.site_title} – feeds"
    if updated is not None:
        ET.SubElement(head, "dateModified").text = format_datetime(updated, usegmt=True)
    body = ET.SubElement(root, "body")
    groups = feed_groups(feeds, settings)
    for fmt in Format:
        group = ET.SubElement(body, "outline", text=FORMAT_NAMES[fmt], title=FORMAT_NAMES[fmt])
        for kind in groups:
            parent = group
            if kind.kind:
                parent = ET.SubElement(group, "outline", text=kind.label, title=kind.label)
            _outlines(parent, kind.feeds, fmt, settings)
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="UTF-8", xml_declaration=True)) + b"\n"


def _outlines(group: ET.Element, feeds: tuple[Feed, ...], fmt: Format, settings: Settings) -> None:
    for feed in feeds:
        title = feed.spec.title
        ET.SubElement(
            group,
            "outline",
            type="rss",
            text=title,
            title=title,
            xmlUrl=settings.feed_url + feed_path(feed.spec.slug, fmt),  # as render.feed_url writes it
            htmlUrl=settings.site_link,
        )
