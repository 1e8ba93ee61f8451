"""Feed validity: the rules of the W3C Feed Validation Service that a feed parser does not enforce.

feedparser reads almost anything; the W3C validator (feedvalidator.org) does not. Its
checks are re-stated here over lxml, each problem named after the message the validator
logs (MissingAtomSelfLink, InvalidHttpGUID, InvalidContact, IncorrectDOW, …), and every
feed of a varied corpus — generated articles, the sample site, the hostile and odd
articles under tests/data/articles/valid — must show none of them, in every content
mode. Each check is shown to catch its fault on a deliberately broken feed.

The validator itself is not on PyPI. To run it here too, put the `src` folder of a
checkout of w3c/feedvalidator on PYTHONPATH and install html5lib: the last test then
feeds it every document of the corpus and fails on any error it reports.
"""

from __future__ import annotations

import copy
import importlib
import re
import shutil
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_tz
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from lxml import etree
from lxml import html as lxml_html

from feedsvc.config import SETTINGS
from feedsvc.feeds.archives import Archives
from feedsvc.feeds.render import feed_url
from feedsvc.model import Format, Snapshot
from feedsvc.refresh.refresher import Refresher
from feedsvc.store import Store
from tests.conftest import DATA, Clock, make_settings
from tests.corpus import write_article, write_corpus
from tests.test_render import CATEGORIES, build, read_json, strict_xml, write_sample

ATOM_NS = "http://www.w3.org/2005/Atom"
MEDIA_NS = "http://search.yahoo.com/mrss/"
DC_NS = "http://purl.org/dc/elements/1.1/"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
XML_NS = "http://www.w3.org/XML/1998/namespace"
SETTING_KEYS = {setting.key for setting in SETTINGS}
NS = {"atom": ATOM_NS, "media": MEDIA_NS, "dc": DC_NS, "content": CONTENT_NS}

# --- the validator's own patterns (feedvalidator/validators.py) -------------------------

# rfc2396_full: a scheme, then only the characters a URI allows as they are.
FULL_URI = re.compile(r"[A-Za-z][0-9A-Za-z+\-.]*:(//)?[0-9A-Za-z;/?:@&=+$.\-_!~*'()%,#]+")
# httpURL, for <enclosure url>: http(s) and a dotted host name or an IPv4 address.
HTTP_URL = re.compile(r"https?://(([0-9]{1,3}\.){3}|([A-Z0-9\-]+\.)+)[A-Z0-9][-A-Z0-9]*(:\d+)?(/|$)", re.IGNORECASE)
TAG_URI = re.compile(
    r"tag:([a-z0-9\-._]+?@)?[a-z0-9.\-]+?,\d{4}(-\d{2}(-\d{2})?)?:[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,]*"
    r"(#[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,]*)?"
)
URN = re.compile(r"[Uu][Rr][Nn]:[a-zA-Z0-9][a-zA-Z0-9-]{1,31}:([a-zA-Z0-9()+,.:=@;$_!*'\-]|%[0-9A-Fa-f]{2})+")
UUID_URN = re.compile(r"[Uu][Rr][Nn]:[Uu][Uu][Ii][Dd]:[a-fA-F0-9]{8}(-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}")
# rfc2822_re: the strict form of an RFC 822 date; anything looser is at best "problematical".
RFC822 = re.compile(
    r"(((Mon)|(Tue)|(Wed)|(Thu)|(Fri)|(Sat)|(Sun)), )?\d\d? ((Jan)|(Feb)|(Mar)|(Apr)|(May)|(Jun)|(Jul)|(Aug)|"
    r"(Sep)|(Oct)|(Nov)|(Dec)) \d\d\d\d \d\d:\d\d(:\d\d)? (([+-]?\d\d[03]0)|(UT)|(GMT)|(EST)|(EDT)|(CST)|(CDT)|"
    r"(MST)|(MDT)|(PST)|(PDT)|Z)"
)
RFC3339 = re.compile(r"\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*)?(Z|([+-]\d\d:\d\d))")
MIME = re.compile(
    r'[^\s()<>,;:\\"/\[\]?=]+/[^\s()<>,;:\\"/\[\]?=]+'
    r'(\s*;\s*[^\s()<>,;:\\"/\[\]?=]+=("(\\"|[^"])*"|[^\s()<>,;:\\"/\[\]?=]+))*'
)
# addr_spec: the validator's address pattern, or its simpler one (which it then looks up in DNS).
EMAIL = re.compile(
    r"[A-Z0-9_\-+.'!#$%&*/=?^`{|}~]+@(([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([A-Z0-9\-]+\.)+))[A-Z0-9][-A-Z0-9]*",
    re.IGNORECASE,
)
SIMPLE_EMAIL = re.compile(r"[\w._%+-]+@[A-Za-z][\w.-]+")
LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _words(text: str) -> frozenset[str]:
    """The set of the words of a text: lists of names read best as lines of words."""
    return frozenset(text.split())


# HTMLValidator: the elements it knows minus those it accepts are a "security risk".
RISKY_ELEMENTS = _words(
    "applet base basefont bdo body comment embed frame frameset head html iframe isindex link listing "
    "meta noframes object param plaintext script slot style title xmp"
)
UNSAFE_STYLE = re.compile(r"url\s*\(|expression\s*\(|javascript:|behaviou?r\s*:|-moz-binding", re.IGNORECASE)
ABSOLUTE_REFERENCE = re.compile(r"\w+:")  # absUrlMixin.absref_re
ATOM_LINK_RELATIONS = _words(
    "alternate current describedby edit edit-media enclosure first hub last license next next-archive "
    "payment prev-archive previous related replies search self service up via"
)
RSS_CHANNEL_ELEMENTS = _words(
    "title link description language copyright managingEditor webMaster pubDate lastBuildDate category "
    "generator docs cloud ttl image rating textInput skipHours skipDays item"
)
RSS_ITEM_ELEMENTS = _words("title link description author category comments enclosure guid pubDate source")
RSS_ITEM_ONCE = ("title", "link", "description", "author", "comments", "guid", "pubDate", "source")
ATOM_FEED_ELEMENTS = _words(
    "author category contributor generator icon id link logo rights subtitle title updated entry"
)
ATOM_ENTRY_ELEMENTS = _words(
    "author category content contributor id link published rights source summary title updated"
)
ATOM_ONCE = ("id", "title", "updated", "published", "subtitle", "summary", "content", "rights", "generator")


# --- the checks ----------------------------------------------------------------------


def uri_problem(value: str) -> str | None:
    """Name what the validator's full-URI check (rfc2396_full, tag:, urn:) says about a value, or None."""
    scheme = value.split(":", 1)[0].lower()
    if scheme == "tag":
        return None if TAG_URI.fullmatch(value) else "InvalidTAG"
    if scheme == "urn":
        if value.lower().startswith("urn:uuid:"):
            return None if UUID_URN.fullmatch(value) else "InvalidUUID"
        return None if URN.fullmatch(value) else "InvalidURN"
    if not FULL_URI.fullmatch(value):
        return "InvalidUriChar" if any(ord(c) > 127 or c in ' []{}|\\^`<>"' for c in value) else "InvalidFullLink"
    if scheme in ("http", "https", "ftp") and not re.match(r"\w+://[^/]", value):
        return "InvalidFullLink"
    return None


def rfc822_problem(value: str) -> str | None:
    """Name what the validator says of an RSS date, or None for a strict RFC 822 date with its right weekday."""
    if not RFC822.fullmatch(value):
        return "InvalidRFC2822Date"
    parsed = parsedate_tz(value)
    if parsed is None:
        return "InvalidRFC2822Date"
    try:
        day = datetime(*parsed[:3]).weekday()
    except ValueError:
        return "InvalidRFC2822Date"
    if "," in value and value[:3] != DAYS[day]:
        return "IncorrectDOW"
    return None


def rfc3339_problem(value: str) -> str | None:
    """Name what the validator says of an Atom date, or None for an RFC 3339 date-time with a zone."""
    if value != value.strip():
        return "UnexpectedWhitespace"
    if not RFC3339.fullmatch(value):
        return "InvalidRFC3339Date"
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return "InvalidRFC3339Date"
    return None


def email_problem(value: str) -> str | None:
    """Name what the validator says of an address (addr_spec), or None."""
    return None if EMAIL.fullmatch(value) or SIMPLE_EMAIL.fullmatch(value) else "InvalidAddrSpec"


def rss_author_problem(value: str) -> str | None:
    """Name what the validator says of an RSS <author> (email_with_name): `address (Name)` or an address."""
    match = re.fullmatch(r"(\S+@\S+)( \(.*\))?", value.strip())
    if match is None:
        return "InvalidContact"
    return "InvalidContact" if email_problem(match.group(1)) else None


def integer_problem(value: str | None, *, positive: bool = False) -> str | None:
    """Name what the validator says of a (non-negative or positive) integer, or None."""
    if value is None:
        return "MissingAttribute"
    try:
        number = int(value)
    except ValueError:
        return "InvalidInteger"
    if number < 0 or (positive and number == 0):
        return "InvalidPositiveInteger" if positive else "InvalidNonNegativeInteger"
    return None


def html_problems(markup: str) -> list[str]:
    """Name what the validator (safeHtml) says of escaped HTML: risky elements, handlers, styles, relative URLs."""
    if not markup.strip():
        return []
    problems = []
    for element in lxml_html.fragment_fromstring(markup, create_parent="div").iter():
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions
        if element.tag.lower() in RISKY_ELEMENTS:
            problems.append(f"SecurityRisk: <{element.tag}>")
        for name, value in element.attrib.items():
            if name.lower().startswith("on"):
                problems.append(f"SecurityRiskAttr: {name}")
            elif name.lower() == "style" and UNSAFE_STYLE.search(value):
                problems.append(f"DangerousStyleAttr: {value}")
            elif name.lower() in ("href", "src") and not ABSOLUTE_REFERENCE.match(value.strip()):
                problems.append(f"ContainsRelRef: {value}")
    return problems


def local(element: etree._Element) -> str:
    """The local name of an element."""
    return str(etree.QName(element).localname)


def once(parent: etree._Element, tag: str, where: str, problems: list[str]) -> None:
    """Note a DuplicateElement for an element that may appear once."""
    if len(parent.findall(tag, NS)) > 1:
        problems.append(f"{where}: DuplicateElement: {tag}")


def text_of(element: etree._Element | None) -> str:
    """The text of an element, or '' when absent."""
    return "" if element is None or element.text is None else element.text


def media_problems(item: etree._Element, where: str) -> list[str]:
    """Media RSS: media:thumbnail and media:content need a url that is a full URI."""
    problems = []
    for tag in ("media:thumbnail", "media:content"):
        for media in item.findall(tag, NS):
            url = media.get("url")
            if url is None:
                problems.append(f"{where}: MissingAttribute: {tag}@url")
            elif uri_problem(url):
                problems.append(f"{where}: {uri_problem(url)}: {tag}@url {url}")
    return problems


def rss_problems(data: bytes, self_url: str) -> list[str]:
    """Every problem the validator would log about an RSS 2.0 document, as 'where: Rule: detail'."""
    problems: list[str] = []
    root = strict_xml(data)
    if root.tag != "rss" or root.get("version") != "2.0":
        return [f"root: InvalidRSSVersion: {root.tag} {root.get('version')}"]
    channels = root.findall("channel")
    if len(channels) != 1:
        return [f"rss: MissingElement or DuplicateElement: {len(channels)} channels"]
    (channel,) = channels
    for tag, rule in (("title", "MissingTitle"), ("link", "MissingLink"), ("description", "MissingDescription")):
        if channel.find(tag) is None:
            problems.append(f"channel: {rule}")
        once(channel, tag, "channel", problems)
    if not text_of(channel.find("title")).strip():
        problems.append("channel: NotBlank: title")
    link = text_of(channel.find("link"))
    if link and uri_problem(link):
        problems.append(f"channel: {uri_problem(link)}: link {link}")
    for tag in ("language", "copyright", "managingEditor", "webMaster", "pubDate", "lastBuildDate", "generator"):
        once(channel, tag, "channel", problems)
    for tag in ("docs", "cloud", "ttl", "image", "textInput", "skipHours", "skipDays"):
        once(channel, tag, "channel", problems)
    language = channel.findtext("language")
    if language is None:
        problems.append("channel: MissingDCLanguage")
    elif not LANGUAGE.fullmatch(language):
        problems.append(f"channel: InvalidLanguage: {language}")
    for tag in ("pubDate", "lastBuildDate"):
        value = channel.findtext(tag)
        if value is not None and rfc822_problem(value):
            problems.append(f"channel: {rfc822_problem(value)}: {tag} {value}")
    ttl = channel.findtext("ttl")
    if ttl is not None and integer_problem(ttl, positive=True):
        problems.append(f"channel: {integer_problem(ttl, positive=True)}: ttl {ttl}")
    docs = channel.findtext("docs")
    if docs is not None and uri_problem(docs):
        problems.append(f"channel: {uri_problem(docs)}: docs {docs}")
    for tag in ("managingEditor", "webMaster"):
        value = channel.findtext(tag)
        if value is not None and rss_author_problem(value):
            problems.append(f"channel: InvalidContact: {tag} {value}")
    image = channel.find("image")
    if image is not None:
        for tag in ("url", "title", "link"):
            if image.find(tag) is None:
                problems.append(f"image: MissingElement: {tag}")
        for tag, limit in (("width", 144), ("height", 400)):
            value = image.findtext(tag)
            if value is not None and (integer_problem(value, positive=True) or int(value) > limit):
                problems.append(f"image: InvalidInteger or IntegerOverflow: {tag} {value}")
    for atom_link in channel.findall("atom:link", NS):
        href, rel = atom_link.get("href", ""), atom_link.get("rel", "alternate")
        if uri_problem(href):
            problems.append(f"channel: {uri_problem(href)}: atom:link rel={rel} href {href}")
        if rel not in ATOM_LINK_RELATIONS and uri_problem(rel):
            problems.append(f"channel: UnregisteredAtomLinkRel: {rel}")
    selves = [a for a in channel.findall("atom:link", NS) if a.get("rel") == "self"]
    if not selves:
        problems.append("channel: MissingAtomSelfLink")
    for self_link in selves:
        if self_link.get("href") != self_url:
            problems.append(f"channel: SelfDoesntMatchLocation: {self_link.get('href')} is not {self_url}")
        if self_link.get("type") != "application/rss+xml":
            problems.append(f"channel: SelfNotAtom: self link type {self_link.get('type')}")
    for element in channel.iterchildren(tag=etree.Element):
        if etree.QName(element).namespace is None and element.tag not in RSS_CHANNEL_ELEMENTS:
            problems.append(f"channel: UndefinedElement: {element.tag}")
    children = list(channel.iterchildren(tag=etree.Element))
    items = channel.findall("item")
    if items and any(children.index(c) > children.index(items[0]) and c.tag != "item" for c in children):
        problems.append("channel: MisplacedItem: metadata after the first item")
    guids = Counter(text_of(item.find("guid")) for item in items if item.find("guid") is not None)
    for guid, count in guids.items():
        if count > 1:
            problems.append(f"channel: DuplicateGuid: {guid} in {count} items")
    for number, item in enumerate(items):
        problems += rss_item_problems(item, f"item {number} ({text_of(item.find('title'))[:40]})")
    return problems


def rss_item_problems(item: etree._Element, where: str) -> list[str]:
    """What the validator logs about one RSS item."""
    problems: list[str] = []
    if item.find("title") is None and item.find("description") is None:
        problems.append(f"{where}: ItemMustContainTitleOrDescription")
    if item.find("title") is not None and not text_of(item.find("title")).strip():
        problems.append(f"{where}: NotBlank: title")
    for tag in RSS_ITEM_ONCE:
        once(item, tag, where, problems)
    if len(item.findall("enclosure")) > 1:
        problems.append(f"{where}: DuplicateEnclosure")
    for element in item.iterchildren(tag=etree.Element):
        if etree.QName(element).namespace is None and element.tag not in RSS_ITEM_ELEMENTS:
            problems.append(f"{where}: UndefinedElement: {element.tag}")
    link = item.findtext("link")
    if link is not None and uri_problem(link):
        problems.append(f"{where}: {uri_problem(link)}: link {link}")
    guid = item.find("guid")
    if guid is None:
        problems.append(f"{where}: MissingGuid")
    else:
        permalink = guid.get("isPermaLink", "true")
        value = text_of(guid)
        if permalink not in ("true", "false"):
            problems.append(f"{where}: InvalidBooleanAttribute: isPermaLink={permalink}")
        elif permalink == "true":
            if uri_problem(value) or not value.lower().startswith(("http://", "https://")):
                problems.append(f"{where}: InvalidHttpGUID: a permalink guid {value!r} is not an absolute URL")
            elif value.lower().startswith(("tag:", "urn:uuid:")):
                problems.append(f"{where}: InvalidPermalink: {value}")
        if not value.strip():
            problems.append(f"{where}: NotBlank: guid")
    published = item.findtext("pubDate")
    if published is not None and rfc822_problem(published):
        problems.append(f"{where}: {rfc822_problem(published)}: pubDate {published}")
    author = item.findtext("author")
    if author is not None and rss_author_problem(author):
        problems.append(
            f"{where}: InvalidContact: <author> {author!r} is not an email address (a name goes in dc:creator)"
        )
    for core, extension in (("author", "dc:creator"), ("pubDate", "dc:date"), ("category", "dc:subject")):
        if item.find(core) is not None and item.find(extension, NS) is not None:
            problems.append(f"{where}: DuplicateItemSemantics: {core} and {extension}")
    for enclosure in item.findall("enclosure"):
        url = enclosure.get("url")
        if url is None:
            problems.append(f"{where}: MissingAttribute: enclosure@url")
        elif not HTTP_URL.match(url) or uri_problem(url):
            problems.append(f"{where}: InvalidURLAttribute: enclosure@url {url}")
        length = integer_problem(enclosure.get("length"))
        if length:
            problems.append(f"{where}: {length}: enclosure@length {enclosure.get('length')}")
        media_type = enclosure.get("type")
        if media_type is None:
            problems.append(f"{where}: MissingAttribute: enclosure@type")
        elif not MIME.fullmatch(media_type):
            problems.append(f"{where}: InvalidMIMEAttribute: enclosure@type {media_type}")
    content = item.find("content:encoded", NS)
    if content is not None:
        description = item.find("description")
        if description is None or list(item).index(description) > list(item).index(content):
            problems.append(f"{where}: NeedDescriptionBeforeContent")
        problems += [f"{where}: content:encoded {p}" for p in html_problems(text_of(content))]
    problems += [f"{where}: description {p}" for p in html_problems(text_of(item.find("description")))]
    return problems + media_problems(item, where)


def atom_problems(data: bytes, self_url: str) -> list[str]:
    """Every problem the validator would log about an Atom 1.0 document, as 'where: Rule: detail'."""
    problems: list[str] = []
    root = strict_xml(data)
    if root.tag != f"{{{ATOM_NS}}}feed":
        return [f"root: UndefinedElement: {root.tag}"]
    for tag in ("id", "title", "updated"):
        if root.find(f"atom:{tag}", NS) is None:
            problems.append(f"feed: MissingElement: {tag}")
    for tag in ATOM_ONCE:
        once(root, f"atom:{tag}", "feed", problems)
    problems += atom_id_problems(root, "feed")
    problems += atom_date_problems(root, "feed")
    problems += atom_text_problems(root, "feed")
    children = list(root.iterchildren(tag=etree.Element))
    entries = root.findall("atom:entry", NS)
    if entries and any(children.index(c) > children.index(entries[0]) and local(c) != "entry" for c in children):
        problems.append("feed: MisplacedMetadata: metadata after the first entry")
    for element in children:
        if etree.QName(element).namespace == ATOM_NS and local(element) not in ATOM_FEED_ELEMENTS:
            problems.append(f"feed: UndefinedElement: {local(element)}")
    problems += atom_author_problems(root, "feed")
    links = root.findall("atom:link", NS)
    problems += atom_link_problems(links, "feed")
    selves = [link for link in links if link.get("rel") == "self"]
    if not selves:
        problems.append("feed: MissingSelf")
    for self_link in selves:
        if self_link.get("href") != self_url:
            problems.append(f"feed: SelfDoesntMatchLocation: {self_link.get('href')} is not {self_url}")
        if self_link.get("type") != "application/atom+xml":
            problems.append(f"feed: SelfNotAtom: {self_link.get('type')}")
    generator = root.find("atom:generator", NS)
    if generator is not None and generator.get("uri") and uri_problem(generator.get("uri", "")):
        problems.append(f"feed: InvalidIRI: generator@uri {generator.get('uri')}")
    feed_author = root.find("atom:author", NS) is not None
    ids = Counter(text_of(entry.find("atom:id", NS)) for entry in entries)
    for identity, count in ids.items():
        if count > 1:
            problems.append(f"feed: DuplicateEntries: id {identity} in {count} entries")
    for number, entry in enumerate(entries):
        where = f"entry {number} ({text_of(entry.find('atom:title', NS))[:40]})"
        problems += atom_entry_problems(entry, where, feed_author=feed_author)
    return problems


def atom_entry_problems(entry: etree._Element, where: str, *, feed_author: bool) -> list[str]:
    """What the validator logs about one Atom entry."""
    problems: list[str] = []
    for tag in ("id", "title", "updated"):
        if entry.find(f"atom:{tag}", NS) is None:
            problems.append(f"{where}: MissingElement: {tag}")
    for tag in ATOM_ONCE:
        once(entry, f"atom:{tag}", where, problems)
    for element in entry.iterchildren(tag=etree.Element):
        if etree.QName(element).namespace == ATOM_NS and local(element) not in ATOM_ENTRY_ELEMENTS:
            problems.append(f"{where}: UndefinedElement: {local(element)}")
    if entry.find("atom:author", NS) is None and not feed_author:
        problems.append(f"{where}: MissingElement: author (neither the entry nor the feed has one)")
    problems += atom_author_problems(entry, where)
    problems += atom_id_problems(entry, where)
    problems += atom_date_problems(entry, where)
    problems += atom_text_problems(entry, where)
    links = entry.findall("atom:link", NS)
    problems += atom_link_problems(links, where)
    if entry.find("atom:content", NS) is None and not any(
        link.get("rel", "alternate") == "alternate" for link in links
    ):
        problems.append(f"{where}: MissingContentOrAlternate")
    for link in links:
        if link.get("rel") == "enclosure":
            if link.get("type") is None:
                problems.append(f"{where}: MissingAttribute: enclosure link type")
            if link.get("length") is None:
                problems.append(f"{where}: MissingAttribute: enclosure link length")
    for category in entry.findall("atom:category", NS):
        if not category.get("term"):
            problems.append(f"{where}: MissingAttribute: category@term")
    return problems + media_problems(entry, where)


def atom_id_problems(parent: etree._Element, where: str) -> list[str]:
    """atom:id: no surrounding whitespace, a full URI (an IRI the validator accepts)."""
    element = parent.find("atom:id", NS)
    if element is None:
        return []
    value = text_of(element)
    if value != value.strip():
        return [f"{where}: UnexpectedWhitespace: id {value!r}"]
    problem = uri_problem(value)
    return [f"{where}: {problem}: id {value}"] if problem else []


def atom_date_problems(parent: etree._Element, where: str) -> list[str]:
    """atom:updated and atom:published are RFC 3339 date-times with a zone."""
    problems = []
    for tag in ("updated", "published"):
        element = parent.find(f"atom:{tag}", NS)
        if element is not None and rfc3339_problem(text_of(element)):
            problems.append(f"{where}: {rfc3339_problem(text_of(element))}: {tag} {text_of(element)!r}")
    return problems


def atom_text_problems(parent: etree._Element, where: str) -> list[str]:
    """Text constructs: a known type; text and html escaped (no child elements); html safe and absolute."""
    problems = []
    for tag in ("title", "subtitle", "summary", "rights", "content"):
        for element in parent.findall(f"atom:{tag}", NS):
            kind = element.get("type", "text")
            if kind not in ("text", "html", "xhtml") and not (tag == "content" and MIME.fullmatch(kind)):
                problems.append(f"{where}: InvalidTextType: {tag} type={kind}")
            if kind != "xhtml" and len(element):
                problems.append(f"{where}: NotEscaped: {tag} type={kind} holds child elements")
            if kind == "html":
                problems += [f"{where}: {tag} {p}" for p in html_problems(text_of(element))]
            if tag == "title" and not text_of(element).strip() and not len(element):
                problems.append(f"{where}: NotBlank: title")
    return problems


def atom_author_problems(parent: etree._Element, where: str) -> list[str]:
    """atom:author: one non-blank name; an email that is an address; a uri that is a full URI."""
    problems = []
    for author in parent.findall("atom:author", NS):
        names = author.findall("atom:name", NS)
        if len(names) != 1 or not text_of(names[0]).strip():
            problems.append(f"{where}: MissingElement: author name")
        email = author.findtext("atom:email", namespaces=NS)
        if email is not None and email_problem(email):
            problems.append(f"{where}: InvalidAddrSpec: author email {email!r}")
        uri = author.findtext("atom:uri", namespaces=NS)
        if uri is not None and uri_problem(uri):
            problems.append(f"{where}: InvalidIRI: author uri {uri}")
    return problems


def atom_link_problems(links: list[etree._Element], where: str) -> list[str]:
    """atom:link: an href that is a full URI, a known rel, a media type, a length; one alternate per type."""
    problems = []
    alternates: Counter[tuple[str, str]] = Counter()
    for link in links:
        href = link.get("href")
        rel = link.get("rel", "alternate")
        if href is None:
            problems.append(f"{where}: MissingHref: link rel={rel}")
        elif uri_problem(href):
            problems.append(f"{where}: {uri_problem(href)}: link rel={rel} href {href}")
        if rel not in ATOM_LINK_RELATIONS and uri_problem(rel):
            problems.append(f"{where}: UnregisteredAtomLinkRel: {rel}")
        if link.get("type") is not None and not MIME.fullmatch(link.get("type", "")):
            problems.append(f"{where}: InvalidMIMEType: link type {link.get('type')}")
        if link.get("length") is not None and integer_problem(link.get("length")):
            problems.append(f"{where}: InvalidNonNegativeInteger: link length {link.get('length')}")
        if (link.text or "").strip() or len(link):
            problems.append(f"{where}: AtomLinkNotEmpty")
        if rel == "alternate":
            alternates[(link.get("type", ""), link.get("hreflang", ""))] += 1
    problems += [f"{where}: DuplicateAtomLink: alternate {key}" for key, count in alternates.items() if count > 1]
    return problems


def feed_documents(snapshot: Snapshot, base: str, formats: tuple[Format, ...]) -> dict[str, tuple[bytes, str]]:
    """Every feed document of a snapshot in `formats`, archive pages included: path -> (bytes, its public URL)."""
    found = {}
    for path, document in snapshot.documents.items():
        if path.startswith("feeds/") and path.endswith(tuple(f".{fmt.value}" for fmt in formats)):
            found[path] = (document.body, base + path)
    if isinstance(snapshot.archives, Archives):
        for page in snapshot.archives.pages():
            if page.fmt in formats:
                found[page.path] = (snapshot.archives.render(page).body, base + page.path)
    return found


def problems_of(snapshot: Snapshot, base: str) -> dict[str, list[str]]:
    """Check every RSS and Atom document of a snapshot (feeds and archive pages); return the problems of each."""
    found = {}
    for path, (body, url) in feed_documents(snapshot, base, (Format.RSS, Format.ATOM)).items():
        check = rss_problems if path.endswith(".rss") else atom_problems
        problems = check(body, url)
        if problems:
            found[path] = problems
    return found


# --- a varied corpus -------------------------------------------------------------------

EXTRA_ARTICLES: dict[str, tuple[dict[str, Any], str]] = {
    "email-only.md": ({"title": "Email only", "author": {"email": "desk@example.com"}, "date": "2025-03-01"}, ""),
    "id-url.md": ({"title": "Id is another URL", "id": "https://archive.example.org/item/7", "date": "2025-03-02"}, ""),
    "id-tag.md": ({"title": "Id is a tag URI", "id": "tag:example.org,2024-05:post/1", "date": "2025-03-03"}, ""),
    "id-number.md": ({"title": "Numeric id", "id": 20250304, "date": "2025-03-04"}, ""),
    "id-words.md": ({"title": "Id with words", "id": "post #5 / 中文", "date": "2025-03-05"}, ""),
    "thumb-query.md": (
        {
            "title": "Thumbnail with a query",
            "thumbnail": "http://img.example.com:8080/x.png?w=1&h=2",
            "date": "2025-03-06",
        },
        "",
    ),
    "same-time-a.md": ({"title": "Same time A", "date": "2025-03-07T12:00:00+08:00"}, ""),
    "same-time-b.md": ({"title": "Same time B", "date": "2025-03-07T04:00:00Z"}, ""),
    "fraction.md": ({"title": "Fractional seconds", "date": "2025-03-08T01:02:03.456+05:45"}, ""),
    "html-title.md": ({"title": "A <b>bold</b> claim & an AT&amp;T ]]> title", "date": "2025-03-09"}, ""),
    "links.md": (
        {"title": "Links everywhere", "date": "2025-03-10", "slug": "links everywhere/中文 #1"},
        '<p><a href="rel">r</a> <a href="/root?a=1&amp;b=2#f">root</a> <img src="pic.png"> '
        '<a href="#top">top</a> <a href="mailto:x@example.com">m</a> <img src="data:image/png;base64,iVBOR"> '
        '<p style="color: red">red</p> <a href="https://例子.example/页">idn path</a></p>',
    ),
}

# The hub link of WebSub, where this feedsvc has it: a hub URL with a query, to be escaped right.
HUB = {"websub": {"hub": "https://hub.example.com/?via=feedsvc&x=1"}} if "websub.hub" in SETTING_KEYS else {}
VARIANTS: dict[str, dict[str, dict[str, Any]]] = {
    # Tag, author and entity feeds too: one stock feed keyed by the links' text (`个股`, a transliterated slug).
    "full": {
        "categories": CATEGORIES,
        **HUB,
        "feeds": {"tag_min_articles": 1},
        "entities": {"stocks": {"selector": "a.trsHotWords", "key": "text", "feed_title": "{title}（{key}）"}},
    },
    "summary, no site author, a path in site.link": {
        "feeds": {"content": "summary"},
        "site": {
            "author": "",
            "language": "zh-CN",
            "link": "https://www.example.com/blog/",
            "feed_url": "https://feeds.example.com/base/",
        },
    },
    "none": {"feeds": {"content": "none"}, "categories": CATEGORIES},
}


def write_varied_corpus(content_dir: Path) -> None:
    """Generated articles, the sample site, every valid test article and a few more odd ones."""
    write_corpus(content_dir / "generated", 40)
    write_sample(content_dir / "sample")
    shutil.copytree(DATA / "articles" / "valid", content_dir / "odd")
    for name, (fields, text) in EXTRA_ARTICLES.items():
        write_article(content_dir / "extra", name, fields, text or "<p>正文。</p>")


class Varied(NamedTuple):
    """The varied corpus rendered under one variant of the settings."""

    snapshot: Snapshot
    url_of: Callable[[str, Format], str]  # a feed's public URL, from its slug and format
    base: str  # site.feed_url: the public URL of a path is base + path
    sections: dict[str, dict[str, Any]]  # the config sections of the variant


@pytest.fixture(scope="module", params=list(VARIANTS), ids=list(VARIANTS))
def varied(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Varied:
    """A snapshot of the varied corpus under one variant of the settings, and its feeds' URLs."""
    content_dir = tmp_path_factory.mktemp("varied")
    write_varied_corpus(content_dir)
    sections: dict[str, dict[str, Any]] = copy.deepcopy(VARIANTS[request.param])
    sections.setdefault("feeds", {})["limit"] = 1000  # every article in the feed `all`
    sections["feeds"]["archive_size"] = 25  # and several archive pages
    sections["cache"] = {"enabled": False}  # module-scoped: nothing may go to the shared cache home
    sections["scan"] = {"workers": 1}
    settings = make_settings(content_dir, **sections)
    store = Store()
    Refresher(settings, store, clock=Clock()).refresh()
    assert not store.snapshot.problems
    return Varied(store.snapshot, lambda slug, fmt: feed_url(settings, slug, fmt), settings.feed_url, sections)


# --- every feed of the corpus ---------------------------------------------------------------


def test_every_rss_and_atom_feed_breaks_no_validator_rule(varied: Varied) -> None:
    """No RSS or Atom document of the varied corpus shows any problem the W3C validator reports."""
    snapshot, _url_of, base, sections = varied
    feeds = feed_documents(snapshot, base, (Format.RSS, Format.ATOM))
    assert len([p for p in feeds if "/archive/" not in p]) >= 10
    assert len([p for p in feeds if "/archive/" in p]) >= 10
    if "entities" in sections:  # every kind of feed is checked, archive pages too
        for folder in ("tags", "authors", "stocks"):
            assert any(p.startswith(f"feeds/{folder}/") and "/archive/" in p for p in feeds), folder
    all_rss = strict_xml(snapshot.documents["feeds/all.rss"].body)
    assert len(all_rss.findall("channel/item")) == snapshot.articles > 100
    hubs = [link.get("href") for link in all_rss.findall("channel/atom:link[@rel='hub']", NS)]
    assert hubs == ([sections["websub"]["hub"]] if "websub" in sections else [])
    assert problems_of(snapshot, base) == {}


def test_every_json_feed_of_the_varied_corpus_is_valid_json_feed_1_1(varied: Varied) -> None:
    """Every JSON feed of the varied corpus validates against the JSON Feed 1.1 schema, with unique item ids."""
    snapshot, url_of, base, _sections = varied
    feeds = feed_documents(snapshot, base, (Format.JSON,))
    assert len([p for p in feeds if "/archive/" in p]) >= 5
    for path, (body, _url) in feeds.items():
        document = read_json(body)
        slug = path.removeprefix("feeds/").removesuffix(".json").split("/archive/")[0]
        assert document["feed_url"] == url_of(slug, Format.JSON)  # an archive page too: the feed's identity
        ids = [item["id"] for item in document["items"]]
        assert len(ids) == len(set(ids)), path
        for item in document["items"]:
            for key in ("url", "image"):
                if key in item:
                    assert uri_problem(item[key]) is None, (path, key, item[key])


# --- the checks catch what the validator reports --------------------------------------------------

Mutation = Callable[[etree._Element], None]


def _first(root: etree._Element, path: str) -> etree._Element:
    found = root.find(path, NS)
    assert found is not None, path
    return found


def _remove(root: etree._Element, path: str) -> None:
    element = _first(root, path)
    parent = element.getparent()
    assert parent is not None
    parent.remove(element)


def _set(path: str, attribute: str | None, value: str) -> Mutation:
    def mutate(root: etree._Element) -> None:
        element = _first(root, path)
        if attribute is None:
            element.text = value
        else:
            element.set(attribute, value)

    return mutate


def _drop(path: str, attribute: str | None = None) -> Mutation:
    def mutate(root: etree._Element) -> None:
        if attribute is None:
            _remove(root, path)
        else:
            del _first(root, path).attrib[attribute]

    return mutate


def _rss_author_as_name(root: etree._Element) -> None:
    creator = _first(root, "channel/item/dc:creator")
    creator.tag = "author"


def _rss_duplicate_guid(root: etree._Element) -> None:
    first, second = root.findall("channel/item/guid")[:2]
    second.text = first.text
    second.set("isPermaLink", first.get("isPermaLink", "true"))


def _rss_metadata_after_items(root: etree._Element) -> None:
    channel = _first(root, "channel")
    ttl = _first(channel, "ttl")
    channel.remove(ttl)
    channel.append(ttl)


def _rss_image_without_link(root: etree._Element) -> None:
    image = etree.SubElement(_first(root, "channel"), "image")
    etree.SubElement(image, "url").text = "https://www.example.com/logo.png"
    etree.SubElement(image, "title").text = "logo"
    _first(root, "channel").insert(0, image)


def _content(path: str, markup: str) -> Mutation:
    return _set(path, None, markup)


def _atom_unescaped_html(root: etree._Element) -> None:
    content = _first(root, "atom:entry/atom:content")
    content.text = None
    etree.SubElement(content, "p").text = "raw"


def _atom_no_authors(root: etree._Element) -> None:
    _remove(root, "atom:author")
    for entry in root.findall("atom:entry", NS):
        for author in entry.findall("atom:author", NS):
            entry.remove(author)


def _atom_duplicate_id(root: etree._Element) -> None:
    first, second = root.findall("atom:entry/atom:id", NS)[:2]
    second.text = first.text


def _atom_metadata_after_entries(root: etree._Element) -> None:
    subtitle = _first(root, "atom:subtitle")
    root.remove(subtitle)
    root.append(subtitle)


def _atom_no_content_no_alternate(root: etree._Element) -> None:
    entry = _first(root, "atom:entry")
    _remove(entry, "atom:content")
    for link in entry.findall("atom:link", NS):
        if link.get("rel", "alternate") == "alternate":
            entry.remove(link)


RSS_MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "no self link": (_drop("channel/atom:link[@rel='self']"), "MissingAtomSelfLink"),
    "self link elsewhere": (_set("channel/atom:link[@rel='self']", "href", "http://x.example/f"), "SelfDoesntMatch"),
    "self link untyped": (_drop("channel/atom:link[@rel='self']", "type"), "SelfNotAtom"),
    "no channel description": (_drop("channel/description"), "MissingDescription"),
    "blank channel title": (_set("channel/title", None, " "), "NotBlank: title"),
    "relative channel link": (_set("channel/link", None, "/"), "InvalidFullLink"),
    "zero ttl": (_set("channel/ttl", None, "0"), "InvalidPositiveInteger"),
    "ISO lastBuildDate": (_set("channel/lastBuildDate", None, "2026-11-05T00:00:00Z"), "InvalidRFC2822Date"),
    "wrong weekday": (_set("channel/item/pubDate", None, "Mon, 04 Nov 2026 10:33:00 +0000"), "IncorrectDOW"),
    "metadata after items": (_rss_metadata_after_items, "MisplacedItem"),
    "image without link": (_rss_image_without_link, "image: MissingElement: link"),
    "permalink guid not a URL": (_set("channel/item[3]/guid", "isPermaLink", "true"), "InvalidHttpGUID"),
    "guid permalink yes": (_set("channel/item/guid", "isPermaLink", "yes"), "InvalidBooleanAttribute"),
    "duplicate guid": (_rss_duplicate_guid, "DuplicateGuid"),
    "no guid": (_drop("channel/item/guid"), "MissingGuid"),
    "name in author": (_rss_author_as_name, "InvalidContact"),
    "enclosure without length": (_drop("channel/item/enclosure", "length"), "MissingAttribute"),
    "enclosure length -1": (_set("channel/item/enclosure", "length", "-1"), "InvalidNonNegativeInteger"),
    "enclosure length words": (_set("channel/item/enclosure", "length", "big"), "InvalidInteger"),
    "enclosure without type": (_drop("channel/item/enclosure", "type"), "enclosure@type"),
    "enclosure relative url": (_set("channel/item/enclosure", "url", "/a.png"), "InvalidURLAttribute"),
    "no description before content": (_drop("channel/item/description"), "NeedDescriptionBeforeContent"),
    "relative link in content": (_content("channel/item/content:encoded", '<a href="/x">x</a>'), "ContainsRelRef"),
    "script in content": (_content("channel/item/content:encoded", "<script>x()</script>"), "SecurityRisk"),
    "handler in content": (_content("channel/item/content:encoded", '<p onclick="x()">p</p>'), "SecurityRiskAttr"),
    "relative media url": (_set("channel/item/media:thumbnail", "url", "a.png"), "InvalidFullLink"),
    "unknown element": (lambda root: etree.SubElement(_first(root, "channel/item"), "thumbnail"), "UndefinedElement"),
}

ATOM_MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "no self link": (_drop("atom:link[@rel='self']"), "MissingSelf"),
    "self link elsewhere": (_set("atom:link[@rel='self']", "href", "http://x.example/f"), "SelfDoesntMatch"),
    "no feed id": (_drop("atom:id"), "feed: MissingElement: id"),
    "no feed updated": (_drop("atom:updated"), "feed: MissingElement: updated"),
    "no entry id": (_drop("atom:entry/atom:id"), "MissingElement: id"),
    "no entry title": (_drop("atom:entry/atom:title"), "MissingElement: title"),
    "no entry updated": (_drop("atom:entry/atom:updated"), "MissingElement: updated"),
    "no author anywhere": (_atom_no_authors, "MissingElement: author"),
    "id not a URI": (_set("atom:entry/atom:id", None, "b-id"), "InvalidFullLink"),
    "id with spaces around": (_set("atom:entry/atom:id", None, " https://www.example.com/a/ "), "UnexpectedWhitespace"),
    "bad tag id": (_set("atom:entry/atom:id", None, "tag:foo"), "InvalidTAG"),
    "bad uuid id": (_set("atom:entry/atom:id", None, "urn:uuid:1234"), "InvalidUUID"),
    "non-ASCII id": (_set("atom:entry/atom:id", None, "https://www.example.com/中文/"), "InvalidUriChar"),
    "duplicate entry id": (_atom_duplicate_id, "DuplicateEntries"),
    "date without T": (_set("atom:entry/atom:updated", None, "2026-11-05 00:00:00+00:00"), "InvalidRFC3339Date"),
    "date without zone": (_set("atom:entry/atom:published", None, "2026-11-04T10:33:00"), "InvalidRFC3339Date"),
    "bad author email": (_set("atom:entry/atom:author/atom:email", None, "ann@"), "InvalidAddrSpec"),
    "metadata after entries": (_atom_metadata_after_entries, "MisplacedMetadata"),
    "unescaped html": (_atom_unescaped_html, "NotEscaped"),
    "unknown text type": (_set("atom:entry/atom:summary", "type", "markdown"), "InvalidTextType"),
    "relative link in content": (_content("atom:entry/atom:content", '<img src="x.png">'), "ContainsRelRef"),
    "style in content": (_content("atom:entry/atom:content", '<p style="background:url(x)">p</p>'), "DangerousStyle"),
    "no content, no alternate": (_atom_no_content_no_alternate, "MissingContentOrAlternate"),
    "enclosure without length": (_drop("atom:entry/atom:link[@rel='enclosure']", "length"), "enclosure link length"),
    "bad link type": (_set("atom:link[@rel='alternate']", "type", "html"), "InvalidMIMEType"),
    "duplicate alternate": (
        lambda root: root.insert(5, copy.deepcopy(_first(root, "atom:link[@rel='alternate']"))),
        "DuplicateAtomLink",
    ),
    "unknown atom element": (
        lambda root: etree.SubElement(_first(root, "atom:entry"), f"{{{ATOM_NS}}}image"),
        "UndefinedElement",
    ),
}


@pytest.fixture(scope="module")
def sample_feeds(tmp_path_factory: pytest.TempPathFactory) -> dict[Format, bytes]:
    """The RSS and Atom of the sample site's feed `all`, which break no rule."""
    content_dir = tmp_path_factory.mktemp("sample")
    write_sample(content_dir)
    snapshot = build(content_dir, categories=CATEGORIES, cache={"enabled": False})
    feeds = {fmt: snapshot.documents[f"feeds/all.{fmt.value}"].body for fmt in (Format.RSS, Format.ATOM)}
    assert rss_problems(feeds[Format.RSS], SAMPLE_RSS) == []
    assert atom_problems(feeds[Format.ATOM], SAMPLE_ATOM) == []
    return feeds


SAMPLE_RSS = "http://127.0.0.1:8080/feeds/all.rss"
SAMPLE_ATOM = "http://127.0.0.1:8080/feeds/all.atom"


def _mutated(data: bytes, mutation: Mutation) -> bytes:
    root = strict_xml(data)
    mutation(root)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


@pytest.mark.parametrize(("mutation", "rule"), RSS_MUTATIONS.values(), ids=RSS_MUTATIONS.keys())
def test_rss_checks_catch_what_the_validator_reports(
    sample_feeds: dict[Format, bytes], mutation: Mutation, rule: str
) -> None:
    """Each RSS rule flags a feed broken in the way the validator reports under that rule's name."""
    problems = rss_problems(_mutated(sample_feeds[Format.RSS], mutation), SAMPLE_RSS)
    assert any(rule in problem for problem in problems), problems


@pytest.mark.parametrize(("mutation", "rule"), ATOM_MUTATIONS.values(), ids=ATOM_MUTATIONS.keys())
def test_atom_checks_catch_what_the_validator_reports(
    sample_feeds: dict[Format, bytes], mutation: Mutation, rule: str
) -> None:
    """Each Atom rule flags a feed broken in the way the validator reports under that rule's name."""
    problems = atom_problems(_mutated(sample_feeds[Format.ATOM], mutation), SAMPLE_ATOM)
    assert any(rule in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("Thu, 05 Nov 2026 00:00:00 +0000", None),
        ("Thu, 05 Nov 2026 00:00:00 GMT", None),
        ("5 Nov 2026 00:00 Z", None),
        ("Fri, 05 Nov 2026 00:00:00 +0000", "IncorrectDOW"),
        ("Thu, 31 Feb 2026 00:00:00 +0000", "InvalidRFC2822Date"),
        ("Thu, 05 Nov 26 00:00:00 +0000", "InvalidRFC2822Date"),
        ("Thu, 05 Nov 2026 00:00:00", "InvalidRFC2822Date"),
        ("Thursday, 05 Nov 2026 00:00:00 +0000", "InvalidRFC2822Date"),
    ],
)
def test_rfc822_check_follows_the_validator(value: str, problem: str | None) -> None:
    """RSS dates: the strict RFC 822 form with four-digit years, a zone, and the right day name when given."""
    assert rfc822_problem(value) == problem


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("https://www.example.com/a/", None),
        ("https://www.example.com/%E4%B8%AD/", None),
        ("urn:uuid:5a0e0c2e-0000-4000-8000-000000000001", None),
        ("tag:www.example.com,2000:b%20id", None),
        ("mailto:a@example.com", None),
        ("https://www.example.com/中/", "InvalidUriChar"),
        ("https://www.example.com/a b", "InvalidUriChar"),
        ("https://www.example.com/a[1]", "InvalidUriChar"),
        ("http:foo", "InvalidFullLink"),
        ("/relative", "InvalidFullLink"),
        ("tag:foo", "InvalidTAG"),
        ("urn:x", "InvalidURN"),
        ("urn:uuid:1", "InvalidUUID"),
    ],
)
def test_uri_check_follows_the_validator(value: str, problem: str | None) -> None:
    """Full URIs: a scheme, only URI characters, a host after http://, and well-formed tag: and urn: URIs."""
    assert uri_problem(value) == problem


# --- defects shown by odd front matter -------------------------------------------------------------


def _feeds_for(content_dir: Path, articles: dict[str, dict[str, Any]]) -> tuple[dict[Format, bytes], list[str]]:
    """Render feeds over the given articles; return the RSS and Atom of `all` and their problems."""
    for number, (name, fields) in enumerate(articles.items()):
        write_article(content_dir, f"{name}.md", {"title": name, "date": f"2025-01-{number + 1:02d}", **fields})
    snapshot = build(content_dir, cache={"enabled": False})
    feeds = {fmt: snapshot.documents[f"feeds/all.{fmt.value}"].body for fmt in (Format.RSS, Format.ATOM)}
    problems = rss_problems(feeds[Format.RSS], SAMPLE_RSS) + atom_problems(feeds[Format.ATOM], SAMPLE_ATOM)
    return feeds, problems


@pytest.mark.parametrize(
    "identity",
    [
        "urn:uuid:5a0e0c2e-0000-4000-8000-000000000001",
        "tag:example.org,2024-05-01:post/1",
        "https://archive.example.org/item/7",
        "mailto:desk@example.com",
    ],
)
def test_an_id_that_is_a_valid_uri_is_the_atom_id(content_dir: Path, identity: str) -> None:
    """An article id that is a valid URI is the Atom id as it is, and a guid that is no permalink."""
    feeds, problems = _feeds_for(content_dir, {"post": {"id": identity}})
    assert problems == []
    assert strict_xml(feeds[Format.ATOM]).findtext("atom:entry/atom:id", namespaces=NS) == identity
    guid = _first(strict_xml(feeds[Format.RSS]), "channel/item/guid")
    assert (guid.text, guid.get("isPermaLink")) == (identity, "false")


@pytest.mark.parametrize(
    "identity",
    ["tag:foo", "urn:uuid:1234", "urn:x", "http:foo", "x:中文", "https://www.example.com/中文/"],
)
def test_an_id_that_only_looks_like_a_uri_becomes_a_valid_atom_id(content_dir: Path, identity: str) -> None:
    """An article id shaped like `scheme:rest` that is not a valid URI still gives a valid Atom id."""
    _feeds, problems = _feeds_for(content_dir, {"post": {"id": identity}})
    assert problems == []


@pytest.mark.parametrize(
    "fields",
    [{"link": "https://www.example.com/a[1]"}, {"thumbnail": "https://img.example.com/a[1].png"}],
    ids=["link", "thumbnail"],
)
def test_square_brackets_in_a_url_path_are_percent_encoded(content_dir: Path, fields: dict[str, str]) -> None:
    """A link or image URL with [ ] in its path is published percent-encoded, a URI the validator accepts."""
    _feeds, problems = _feeds_for(content_dir, {"post": fields})
    assert problems == []


def test_a_non_ascii_host_name_is_written_in_idna(content_dir: Path) -> None:
    """An image on an internationalised host name is an enclosure URL with an xn-- host, which the validator accepts."""
    feeds, problems = _feeds_for(content_dir, {"post": {"thumbnail": "https://例子.测试/x.png"}})
    assert problems == []
    enclosure = _first(strict_xml(feeds[Format.RSS]), "channel/item/enclosure")
    assert enclosure.get("url") == "https://xn--fsqu00a.xn--0zwm56d/x.png"


@pytest.mark.parametrize("email", ["a@b", "a@@example.com", "<a@example.com>", "用户@例子.中国"])
def test_an_email_that_is_no_address_is_not_published_as_one(content_dir: Path, email: str) -> None:
    """An author email the validator would not take as an address is not published as one; the name still is."""
    feeds, problems = _feeds_for(content_dir, {"post": {"author": {"name": "N", "email": email}}})
    assert problems == []
    item = _first(strict_xml(feeds[Format.RSS]), "channel/item")
    assert item.findtext("dc:creator", namespaces=NS) == "N" or (item.findtext("author") or "").endswith(" (N)")


# --- the validator itself, when a checkout is at hand -------------------------------------------------


def test_the_w3c_feed_validator_reports_no_error(varied: Varied) -> None:
    """The W3C Feed Validation Service's own code finds no error in any RSS or Atom feed of the corpus."""
    pytest.importorskip("html5lib", reason="the W3C feedvalidator needs html5lib")
    validator: Any = pytest.importorskip(
        "feedvalidator", reason="feedvalidator is not on PyPI: put a checkout's src/ on PYTHONPATH to run it"
    )
    compatibility: Any = importlib.import_module("feedvalidator.compatibility")
    snapshot, _url_of, base, _sections = varied
    errors = {}
    feeds = feed_documents(snapshot, base, (Format.RSS, Format.ATOM))
    assert any("/archive/" in path for path in feeds)
    for path, (body, url) in feeds.items():
        result = validator.validateString(body, firstOccurrenceOnly=0, base=url)
        found = [f"{type(event).__name__} {event.params}" for event in compatibility.A(result["loggedEvents"])]
        if found:
            errors[path] = found
    assert errors == {}
