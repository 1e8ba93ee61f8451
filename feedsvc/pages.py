"""Render the pages around the feeds: the HTML index with autodiscovery, and OPML.

The only module that imports Jinja2. Pure: a catalog in, bytes out.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from email.utils import format_datetime

from jinja2 import Environment, StrictUndefined

from feedsvc.config import Settings
from feedsvc.model import Feed, Format
from feedsvc.render import feed_url

FORMAT_NAMES = {Format.RSS: "RSS 2.0", Format.ATOM: "Atom 1.0", Format.JSON: "JSON Feed 1.1"}

_INDEX = """<!DOCTYPE html>
<html lang="{{ language }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} – feeds</title>
{% for feed in feeds %}{% for fmt in formats %}<link rel="alternate" type="{{ fmt.media_type.split(';')[0] }}" title="{{ feed.spec.title }} ({{ names[fmt] }})" href="feeds/{{ feed.spec.slug }}.{{ fmt.value }}">
{% endfor %}{% endfor %}<style>
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;margin:0 auto;max-width:46rem;padding:1rem;color:#222;background:#fff}
h1{font-size:1.5rem;margin:.5rem 0}
ul{list-style:none;padding:0}
li.feed{border-top:1px solid #ddd;padding:.75rem 0}
.meta{color:#666;font-size:.9rem}
.subscribe a{display:inline-block;margin:.25rem .5rem .25rem 0;padding:.25rem .6rem;border:1px solid #c60;border-radius:.3rem;color:#c60;text-decoration:none}
.newest a{color:#222}
@media (prefers-color-scheme:dark){body{background:#111;color:#ddd}.meta{color:#aaa}.newest a{color:#ddd}li.feed{border-color:#333}}
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p>Subscribe to any feed below in a feed reader, or import <a href="feeds.opml">every feed as OPML</a>.</p>
<ul>
{% for feed in feeds %}<li class="feed" id="{{ feed.spec.slug }}">
<h2 style="font-size:1.15rem;margin:0">{{ feed.spec.title }}</h2>
{% if feed.spec.description and feed.spec.description != feed.spec.title %}<p class="meta">{{ feed.spec.description }}</p>{% endif %}
<p class="meta">{{ feed.total }} article{{ "" if feed.total == 1 else "s" }}{% if feed.articles %} · newest {{ feed.articles[0].published.strftime("%Y-%m-%d %H:%M UTC") }}{% endif %}</p>
{% if feed.articles %}<p class="newest"><a href="{{ feed.articles[0].link }}">{{ feed.articles[0].title }}</a></p>{% endif %}
<p class="subscribe">{% for fmt in formats %}<a href="feeds/{{ feed.spec.slug }}.{{ fmt.value }}" type="{{ fmt.media_type.split(';')[0] }}">{{ names[fmt] }}</a>{% endfor %}</p>
</li>
{% endfor %}</ul>
</body>
</html>
"""

_ENVIRONMENT = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
_INDEX_TEMPLATE = _ENVIRONMENT.from_string(_INDEX)


def render_index(feeds: tuple[Feed, ...], settings: Settings) -> bytes:
    """Render the HTML page that lists every feed, with autodiscovery links."""
    html = _INDEX_TEMPLATE.render(
        title=settings.site_title,
        language=settings.language,
        feeds=feeds,
        formats=list(Format),
        names=FORMAT_NAMES,
    )
    return html.encode("utf-8")


def render_opml(feeds: tuple[Feed, ...], settings: Settings, updated: datetime | None) -> bytes:
    """Render OPML 2.0 with one outline per feed and format, grouped by format."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = f"{settings.site_title} – feeds"
    if updated is not None:
        ET.SubElement(head, "dateModified").text = format_datetime(updated, usegmt=True)
    body = ET.SubElement(root, "body")
    for fmt in Format:
        group = ET.SubElement(body, "outline", text=FORMAT_NAMES[fmt], title=FORMAT_NAMES[fmt])
        for feed in feeds:
            ET.SubElement(
                group,
                "outline",
                type="rss",
                text=feed.spec.title,
                title=feed.spec.title,
                xmlUrl=feed_url(settings, feed.spec.slug, fmt),
                htmlUrl=settings.site_link,
            )
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"
