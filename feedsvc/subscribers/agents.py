"""Tell from a User-Agent who polls a feed: an aggregator that reports its subscribers, a reader, or no one.

Pure. Aggregators that serve many people from one server say how many in their
User-Agent (`Feedly/1.0 (+http://www.feedly.com/fetcher.html; 870 subscribers; …)`);
everything else that asks for a feed is one reader (newsboat, NetNewsWire, a
browser, a self-hosted Miniflux), except crawlers and monitors, which read no feed for anyone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# "870 subscribers", "1 subscriber", "2 readers", "Aggregating on behalf of 15 subscriber(s)", "users 1".
_COUNT = re.compile(
    r"(?<![\w.-])(\d{1,9})\s+(?:subscribers?|subscriber\(s\)|readers?|users)\b|\busers\s+(\d{1,9})\b", re.IGNORECASE
)
# "feed-id=9048986372668769311", "feed-id:1697787", "feedID: 12345".
_FEED_ID = re.compile(r"\bfeed-?id\s*[:=]\s*([\w-]{1,64})", re.IGNORECASE)
# The names aggregators go by, looked for in this order (the first that a User-Agent contains names it).
_AGGREGATORS = (
    ("feedly", "Feedly"),
    ("inoreader", "Inoreader"),
    ("newsblur", "NewsBlur"),
    ("feedbin", "Feedbin"),
    ("theoldreader", "The Old Reader"),
    ("bazqux", "BazQux"),
    ("feedspot", "Feedspot"),
    ("bloglovin", "Bloglovin"),
    ("netvibes", "Netvibes"),
    ("feeder.co", "Feeder"),
    ("feedfetcher-google", "Google Feedfetcher"),
    ("superfeedr", "Superfeedr"),
    ("feedwrangler", "Feed Wrangler"),
    ("overcast", "Overcast"),
    ("dreamwidth", "Dreamwidth"),
    ("freshrss", "FreshRSS"),
    ("miniflux", "Miniflux"),
    ("tiny tiny rss", "Tiny Tiny RSS"),
    ("commafeed", "CommaFeed"),
    ("nextcloud-news", "Nextcloud News"),
)
# Not readers: search crawlers, link previews, monitors and validators, which fetch a feed for no subscriber.
_NOT_READERS = re.compile(
    r"googlebot|bingbot|yandexbot|baiduspider|duckduckbot|applebot|petalbot|ahrefsbot|semrushbot|mj12bot|dotbot"
    r"|gptbot|ccbot|claudebot|bytespider|facebookexternalhit|twitterbot|slackbot|discordbot|telegrambot"
    r"|uptimerobot|pingdom|statuscake|site24x7|kube-probe|prometheus|blackbox|validator|feedvalidator",
    re.IGNORECASE,
)
_PRODUCT = re.compile(r"[A-Za-z][\w.-]*")


@dataclass(frozen=True, slots=True)
class Report:
    """An aggregator's own count of the subscribers it polls a feed for."""

    aggregator: str
    subscribers: int
    feed_id: str = ""  # an aggregator may poll one URL for several groups of subscribers, each with its id


@dataclass(frozen=True, slots=True)
class Reader:
    """One reader polling for itself (or an aggregator that gives no count): counts as one, by who polls."""

    name: str


def classify(user_agent: str | None) -> Report | Reader | None:
    """Return what polling with this User-Agent says about subscribers; None for no one (no header, a crawler)."""
    if not user_agent or not user_agent.strip():
        return None
    lowered = user_agent.lower()
    name = next((shown for key, shown in _AGGREGATORS if key in lowered), None)
    counted = _COUNT.search(user_agent)
    if counted is not None:
        subscribers = int(counted.group(1) or counted.group(2))
        feed_id = _FEED_ID.search(user_agent)
        return Report(name or _product(user_agent), subscribers, feed_id.group(1) if feed_id else "")
    if name is None and _NOT_READERS.search(user_agent):
        return None
    return Reader(name or _product(user_agent))


def _product(user_agent: str) -> str:
    """The first product name in a User-Agent (`Foo/1.0 (…)` → `Foo`), for one no table names."""
    found = _PRODUCT.search(user_agent)
    return found.group(0)[:40] if found else "unknown"
