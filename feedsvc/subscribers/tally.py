"""Turn polls into what is kept of them: aggregators' reports, and keyed hashes of direct clients.

Pure (time and the secret are arguments). A direct client is known only by a keyed
hash of its address and User-Agent; the key changes every UTC day, so that a hash
says nothing after two days, when both it and its key are gone. No address is kept.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from feedsvc.subscribers.agents import Reader, Report, classify

DAY = 86_400
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# What the request thread notes of a poll: the feed's key (`feeds/all.rss`), REMOTE_ADDR,
# X-Forwarded-For and User-Agent as they came (each None when absent).
Poll = tuple[str, str | None, str | None, str | None]


def feed_of(key: str) -> str:
    """Return the feed a document key belongs to, all formats together (`feeds/tags/x.atom` → `tags/x`)."""
    stem = key.removeprefix("feeds/")
    return stem.rsplit(".", 1)[0]


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Read `server.trusted_proxies` entries (addresses or networks) into networks."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def client_address(remote: str | None, forwarded: str | None, trusted: tuple[Network, ...]) -> str:
    """Return the client's address: REMOTE_ADDR, or from X-Forwarded-For when REMOTE_ADDR is a trusted proxy.

    X-Forwarded-For is read from the right: each trusted proxy appended the address it
    was reached from, and the first address that is not a trusted proxy is the client.
    Anything to its left was written by the client itself and is not believed.
    """
    address = remote or ""
    if not trusted or not forwarded or not _trusted(address, trusted):
        return address
    for written in reversed(forwarded.split(",")):
        hop = written.strip()
        if hop and not _trusted(hop, trusted):
            return hop
        address = hop or address
    return address


def device_of(address: str) -> str:
    """Return what stands for one device: an IPv4 address, or the /64 network of an IPv6 one.

    A device makes up new IPv6 addresses within its /64 every day or so (privacy
    extensions), which would otherwise count it again each time.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return address


def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


class DayKeys:
    """The key of each UTC day, derived from one secret: replicas sharing the secret hash a client alike."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._keys: dict[int, bytes] = {}

    def key(self, day: int) -> bytes:
        """Return the key of a day (days since the epoch)."""
        found = self._keys.get(day)
        if found is None:
            if len(self._keys) > 4:
                self._keys.clear()
            found = self._keys[day] = hmac.digest(self._secret, b"feedsvc subscribers day %d" % day, "sha256")
        return found

    def client(self, day: int, address: str, user_agent: str) -> int:
        """Return a client's hash for a day: 64 bits (signed, as SQLite keeps integers)."""
        text = f"{address}\n{user_agent}".encode("utf-8", "surrogatepass")
        return int.from_bytes(hmac.digest(self.key(day), text, "sha256")[:8], "big", signed=True)


@dataclass
class Batch:
    """What a batch of polls leaves to keep, the addresses already gone."""

    day: int
    seen: int  # when the batch was taken (unix seconds)
    # (feed, document key, aggregator, feed id) -> the subscribers it reported last.
    reports: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    # (feed, the client's hash today) -> its hash yesterday (the same client, to be counted once).
    clients: dict[tuple[str, int], int] = field(default_factory=dict)


def tally(polls: Iterable[Poll], *, keys: DayKeys, now: int, trusted: tuple[Network, ...]) -> Batch:
    """Classify a batch of polls and hash the direct clients with today's (and yesterday's) key."""
    day = now // DAY
    batch = Batch(day=day, seen=now)
    kinds: dict[str | None, Report | Reader | None] = {}
    # The same readers poll the same feeds again and again: each distinct poll is worked out once.
    for key, remote, forwarded, user_agent in dict.fromkeys(polls):
        kind = kinds.get(user_agent, _UNSEEN)
        if kind is _UNSEEN:
            kind = kinds[user_agent] = classify(user_agent)
        if kind is None:
            continue
        feed = feed_of(key)
        if isinstance(kind, Report):
            batch.reports[(feed, key, kind.aggregator, kind.feed_id)] = kind.subscribers
            continue
        address = device_of(client_address(remote, forwarded, trusted))
        agent = user_agent or ""
        today = keys.client(day, address, agent)
        if (feed, today) not in batch.clients:
            batch.clients[(feed, today)] = keys.client(day - 1, address, agent)
    return batch


_UNSEEN: Any = object()


@dataclass(frozen=True, slots=True)
class FeedCount:
    """The subscribers of one feed (all its formats): aggregators' reports and direct clients."""

    feed: str
    aggregators: Mapping[str, int]  # aggregator -> the subscribers it reports, its formats and feed ids summed
    direct: int  # distinct direct clients seen in the last 24 hours
    estimated: bool = False  # past `stats.max_clients`: some direct clients counted by a sketch

    @property
    def reported(self) -> int:
        """Return the subscribers aggregators report."""
        return sum(self.aggregators.values())

    @property
    def total(self) -> int:
        """Return the estimate of subscribers: aggregators' reports plus direct clients."""
        return self.reported + self.direct


@dataclass(frozen=True, slots=True)
class Counts:
    """Every feed's subscribers at one moment."""

    feeds: Mapping[str, FeedCount] = field(default_factory=dict)
    as_of: int = 0  # unix seconds; 0: nothing counted yet

    def report(self) -> dict[str, Any]:
        """Return the counts as `/stats.json` and `feedsvc stats --json` give them."""
        return {
            "as_of": self.as_of,
            "feeds": {
                name: {
                    "subscribers": count.total,
                    "aggregators": dict(count.aggregators),
                    "direct": count.direct,
                    "estimated": count.estimated,
                }
                for name, count in self.feeds.items()
            },
        }
