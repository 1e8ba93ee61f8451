"""articles: every front matter field, every encoding, and every way a file becomes a problem.

The files under tests/data/articles/{valid,invalid} are the cases; the tables below say what each must give.
Adding a case means adding a file and a row (either article extension, `.md` or `.markdown`).
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from feedsvc.config import Settings
from feedsvc.model import Article, Author, Problem
from feedsvc.parse.articles import (
    MAX_TITLE_CHARS,
    NotText,
    article_link,
    decode_text,
    parse_article,
    read_body,
    split_front_matter,
)
from tests.conftest import DATA, make_settings, xml_compatible

VALID_DIR = DATA / "articles" / "valid"
INVALID_DIR = DATA / "articles" / "invalid"
MTIME = 1_650_000_000.75  # 2022-04-15T05:20:00.75Z: used for files without a date
MTIME_DATE = dt.datetime(2022, 4, 15, 5, 20, tzinfo=dt.UTC)
SITE = "https://www.example.com/"


def utc(*args: int) -> dt.datetime:
    """Return an aware UTC datetime."""
    return dt.datetime(*args, tzinfo=dt.UTC)


# What each valid file gives. Unlisted fields must have their defaults: no categories, tags, author,
# summary or image, not a draft, no warnings, id equal to link. `warnings` lists the fields warned about.
VALID: dict[str, dict[str, Any]] = {
    "hexo-example.md": {
        "title": "北京全市上下迅速行动，深查细排，快筛严管（抓细抓实各项防疫工作）",
        "published": utc(2022, 5, 4, 10, 33),
        "categories": ("金融", "证券时报网", "要闻"),
        "author": Author("证券时报网"),
        "image": "https://picsum.photos/400/300?random=1114",
        "link": SITE + "2022/05/04/hexo-example/",
    },
    "bom-crlf.md": {"title": "BOM 与 CRLF", "published": utc(2023, 3, 1), "categories": ("样例",)},
    "utf16-le-bom.markdown": {"title": "UTF-16 小端", "published": utc(2023, 3, 1), "categories": ("编码",)},
    "utf16-be-bom.markdown": {"title": "UTF-16 大端", "published": utc(2023, 3, 1), "categories": ("编码",)},
    "gb18030.markdown": {
        "title": "国标编码",
        "published": utc(2023, 3, 1),
        "categories": ("样例",),
        "body": "<p>中文内容</p>\n",
    },
    "control-chars.md": {
        "title": "控制字符与删除",
        "published": utc(2023, 3, 1),
        "categories": ("样例",),
        "body": "<p>formfeed and bell</p>\n",
        "warnings": ("encoding",),
    },
    "nul-bytes.md": {
        "title": "Has a NUL byte",
        "published": utc(2023, 3, 1),
        "categories": ("样例",),
        "body": "<p>scraped text</p>\n",
        "warnings": ("encoding",),
    },
    "cr-only-line-endings.md": {"title": "Old Mac line endings", "published": utc(2023, 3, 1)},
    "leading-blank-lines.md": {"title": "Blank lines before the fence", "published": utc(2023, 3, 1)},
    "body-with-fences.md": {
        "title": "A body with rules",
        "published": utc(2023, 3, 1),
        "body": "first\n\n---\n\nsecond\n---\n",
    },
    "empty-body.md": {"title": "Nothing below", "published": utc(2023, 3, 1), "body": ""},
    "category-string.md": {"title": "单个分类", "published": utc(2023, 3, 1, 16), "categories": ("样例",)},
    "category-singular-field.md": {
        "title": "Hexo category field",
        "published": utc(2023, 3, 1, 16),
        "categories": ("宏观",),
    },
    "tag-singular-field.md": {"title": "Hexo tag field", "published": utc(2023, 3, 1, 16), "tags": ("央行",)},
    "categories-nested.md": {
        "title": "Nested categories",
        "published": utc(2023, 3, 1, 16),
        "categories": ("金融", "股票", "基金", "2024", "1.5", "true"),
    },
    "categories-null.md": {"title": "No categories", "published": utc(2023, 3, 1, 16)},
    "categories-hundreds.md": {
        "title": "Hundreds of categories",
        "published": utc(2023, 3, 1, 16),
        "categories": tuple(f"c{i:03d}" for i in range(50)),  # content.max_categories
        "warnings": ("categories",),
    },
    "categories-hostile-names.md": {
        "title": "Hostile category names",
        "published": utc(2023, 3, 1, 16),
        "categories": ("../../etc/passwd", "<script>alert(1)</script>", "spaced out", "a/b\\c"),
    },
    "tags-list.md": {
        "title": "Tags as a list",
        "published": utc(2023, 3, 1, 16),
        "tags": ("Wall Street", "ESG", "nested", "42"),
    },
    "tags-string.md": {"title": "Tags as a string", "published": utc(2023, 3, 1, 16), "tags": ("单个标签",)},
    "title-number.md": {"title": "2022", "published": utc(2023, 3, 1, 16)},
    "title-float.md": {"title": "3.14", "published": utc(2023, 3, 1, 16)},
    "title-bool.md": {"title": "true", "published": utc(2023, 3, 1, 16)},
    "title-date.md": {"title": "2022-05-04", "published": utc(2023, 3, 1, 16)},
    "title-multiline.md": {"title": "Two lines of title", "published": utc(2023, 3, 1, 16)},
    "title-20000-chars.md": {"title": "长" * (MAX_TITLE_CHARS - 1) + "…", "published": utc(2023, 3, 1, 16)},
    "title-huge-hex-number.md": {
        "title": ("0x" + "f" * 4000)[: MAX_TITLE_CHARS - 1] + "…",
        "published": utc(2023, 3, 1, 16),
    },
    "date-rfc822-gmt.md": {"title": "RFC 822 GMT", "published": utc(2022, 5, 4, 10, 33)},
    "date-rfc822-no-weekday.md": {"title": "RFC 822 without weekday", "published": utc(2022, 5, 4, 2, 33)},
    "date-rfc822-no-zone.md": {"title": "RFC 822 without zone", "published": utc(2022, 5, 4, 2, 33)},
    "date-iso-z.md": {"title": "ISO Z", "published": utc(2022, 5, 4, 10, 33)},
    "date-iso-offset.md": {"title": "ISO offset", "published": utc(2022, 5, 4, 15, 33)},
    "date-iso-no-zone.md": {"title": "ISO no zone", "published": utc(2022, 5, 4, 2, 33)},
    "date-only.md": {"title": "Date only", "published": utc(2022, 5, 3, 16)},
    "date-yaml-date.md": {"title": "YAML date", "published": utc(2022, 5, 3, 16)},
    "date-yaml-naive-timestamp.md": {"title": "YAML naive timestamp", "published": utc(2022, 5, 4, 2, 33)},
    "date-yaml-aware-timestamp.md": {"title": "YAML aware timestamp", "published": utc(2022, 5, 4, 8, 33)},
    "date-loose-slashes.md": {"title": "Loose date", "published": utc(2022, 5, 4, 2, 33)},
    "date-unix-seconds.md": {"title": "Unix seconds", "published": utc(2022, 5, 4, 10, 33)},
    "date-unix-seconds-string.md": {"title": "Unix seconds as text", "published": utc(2022, 5, 4, 10, 33)},
    "date-missing.md": {
        "title": "No date",
        "published": MTIME_DATE,
        "link": SITE + "date-missing/",  # the date is the mtime: the link leaves it out, so a touch never moves it
        "warnings": ("date",),
    },
    "date-future.md": {
        "title": "未来",
        "published": utc(2998, 12, 31, 16),
        "categories": ("样例",),
        "link": SITE + "2999/01/01/date-future/",
    },
    "updated-given.md": {
        "title": "Updated later",
        "published": utc(2022, 5, 4, 10, 33),
        "updated": utc(2022, 5, 6, 8),
    },
    "permalink-site-timezone.md": {
        "title": "Late evening in UTC",
        "published": utc(2022, 5, 4, 20),
        "link": SITE + "2022/05/05/permalink-site-timezone/",
    },
    "image-first-safe-wins.md": {
        "title": "Image precedence",
        "published": utc(2022, 5, 4, 10, 33),
        "image": SITE + "img/cover.png",
        "warnings": ("thumbnail",),
    },
    "relative-thumbnail.md": {
        "title": "相对缩略图",
        "published": utc(2023, 3, 1),
        "categories": ("样例",),
        "image": SITE + "img/cover.png",
        "body": '<p>see <a href="/2023/03/other/">other</a></p>\n',
    },
    "image-protocol-relative.md": {
        "title": "Protocol-relative image",
        "published": utc(2022, 5, 4, 10, 33),
        "image": "https://cdn.example.org/a.png",
    },
    "image-garbage-skipped.md": {
        "title": "Garbage images",
        "published": utc(2022, 5, 4, 10, 33),
        "image": "https://IMG.example.org/x.png",
        "warnings": ("thumbnail", "headimg", "cover"),
    },
    "image-all-unsafe.md": {
        "title": "Only unsafe images",
        "published": utc(2022, 5, 4, 10, 33),
        "warnings": ("thumbnail", "image"),
    },
    "author-string.md": {"title": "Author as text", "published": utc(2022, 5, 4, 10, 33), "author": Author("新华社")},
    "author-mapping.md": {
        "title": "Author as mapping",
        "published": utc(2022, 5, 4, 10, 33),
        "author": Author("Jane Roe", "jane@example.com"),
    },
    "summary-description.md": {
        "title": "Description given",
        "published": utc(2022, 5, 4, 10, 33),
        "summary": "The summary, as given.",
    },
    "summary-excerpt.md": {"title": "Excerpt given", "published": utc(2022, 5, 4, 10, 33), "summary": "摘要文字"},
    "draft-true.md": {"title": "草稿", "published": utc(2023, 3, 1), "draft": True},
    "published-false.md": {"title": "Not published", "published": utc(2023, 3, 1), "draft": True},
    "link-absolute.md": {
        "title": "Absolute link",
        "published": utc(2022, 5, 4, 10, 33),
        "link": "https://news.example.org/a/1.html",
    },
    "permalink-relative.md": {
        "title": "Relative permalink",
        "published": utc(2022, 5, 4, 10, 33),
        "link": SITE + "archives/%E4%B8%AD%E6%96%87/",
    },
    "link-unsafe-ignored.md": {
        "title": "Unsafe link",
        "published": utc(2022, 5, 4, 10, 33),
        "link": SITE + "2022/05/04/link-unsafe-ignored/",
        "warnings": ("link",),
    },
    "slug-given.md": {
        "title": "Slug given",
        "published": utc(2022, 5, 4, 10, 33),
        "link": SITE + "2022/05/04/%E4%B8%AD%20%E6%96%87/",
    },
    "slug-traversal.md": {
        "title": "Slug with dots",
        "published": utc(2022, 5, 4, 10, 33),
        "link": SITE + "2022/05/04/etc/passwd/",
    },
    "my post #1 中文.md": {
        "title": "Awkward file name",
        "published": utc(2022, 5, 4, 10, 33),
        "link": SITE + "2022/05/04/my%20post%20%231%20%E4%B8%AD%E6%96%87/",
    },
    "id-given.md": {
        "title": "Id given",
        "published": utc(2022, 5, 4, 10, 33),
        "id": "urn:uuid:5a0e0c2e-0000-4000-8000-000000000001",
    },
    "yaml-merge-keys.md": {
        "title": "Merge keys",
        "published": utc(2022, 5, 4, 10, 33),
        "categories": ("金融",),
        "author": Author("证券时报网"),
    },
    "yaml-impossible-timestamp-elsewhere.md": {
        "title": "Feb 30 outside the date",
        "published": utc(2022, 5, 4, 10, 33),
    },
    "markdown-body.md": {
        "title": "Markdown 正文",
        "published": utc(2023, 3, 1),
        "categories": ("样例",),
        "body": "## 小标题\n\n*强调* 与 [链接](/relative/link).\n",
    },
    "title-missing.md": {"title": "2022-05-04", "published": utc(2022, 5, 3, 16), "warnings": ("title",)},
    "front-matter-empty.md": {"title": "2022-04-15", "published": MTIME_DATE, "warnings": ("date", "title")},
    "title-empty.md": {"title": "2022-04-15", "published": MTIME_DATE, "warnings": ("date", "title")},
    "json-front-matter.md": {
        "title": "JSON 前言",
        "published": utc(2022, 5, 4, 10, 33),
        "categories": ("样例", "Hexo"),
        "tags": ("json",),
        "body": "<p>JSON front matter, as hexo-front-matter reads it.</p>\n",
    },
    "json-front-matter-braces.md": {
        "title": "JSON object with braces",
        "published": utc(2022, 5, 4, 10, 33),
        "image": SITE + "img/json.png",
        "body": "body\n",
    },
    "json-no-opening-fence.md": {
        "title": "JSON without the opening fence",
        "published": utc(2022, 5, 4, 2, 33),
        "body": "body\n",
    },
    "no-opening-fence.md": {
        "title": "No opening fence",
        "published": utc(2022, 5, 4, 2, 33),
        "categories": ("样例",),
        "body": "body after the fence\n\n---\n\nand a rule\n",
    },
    "image-photos.md": {
        "title": "Gallery post",
        "published": utc(2022, 5, 4, 2, 33),
        "image": SITE + "gallery/first.jpg",
    },
    "image-cover.md": {
        "title": "Cover only",
        "published": utc(2022, 5, 4, 2, 33),
        "image": "https://cdn.example.org/cover.jpg",
    },
    "lang-given.md": {"title": "中文文章", "published": utc(2022, 5, 4, 2, 33), "language": "zh-CN"},
    "lang-not-a-tag.md": {"title": "A bad language", "published": utc(2022, 5, 4, 2, 33), "warnings": ("lang",)},
    "script-in-body.md": {
        "title": "脚本",
        "published": utc(2023, 3, 1),
        "body": '<p>ok</p><script>document.cookie</script><img src="/a.png" onload="x()">\n',
    },
}

# What each invalid file gives: the fields named in the problem, and a fragment of the reason.
INVALID: dict[str, tuple[tuple[str, ...], str]] = {
    "empty.md": (("front matter",), "the file is empty"),
    "whitespace-only.md": (("front matter",), "the file is empty"),
    "bom-only.md": (("front matter",), "the file is empty"),
    "no-front-matter.md": (("front matter",), "missing (expected '---' on the first line)"),
    "front-matter-not-first.md": (("front matter",), "missing"),
    "no-closing-fence.md": (("front matter",), "no closing '---'"),
    "opening-fence-only.md": (("front matter",), "no closing '---'"),
    "yaml-error.md": (("front matter",), "invalid YAML: while parsing a flow sequence at line 2, column 8"),
    "yaml-duplicate-key.md": (("front matter",), "duplicate key 'title' at line 4, column 1"),
    "yaml-list.md": (("front matter",), "is a list (expected a mapping"),
    "yaml-scalar.md": (("front matter",), "is text (expected a mapping"),
    "yaml-python-object.md": (("front matter",), "could not determine a constructor"),
    "yaml-alias-bomb.md": (("front matter",), "aliases expand to more than"),
    "yaml-deep-nesting.md": (("front matter",), "invalid YAML"),
    "yaml-recursive-alias.md": (("front matter",), "an alias contains itself at line 3, column 13"),
    "yaml-bad-tagged-value.md": (("front matter",), "invalid YAML"),
    "title-list.md": (("title",), "is a list (expected text)"),
    "title-mapping.md": (("title",), "is a mapping (expected text)"),
    "json-error.md": (("front matter",), "invalid JSON: Expecting property name enclosed in double quotes at line 4"),
    "json-no-closing-fence.md": (("front matter",), "no closing ';;;'"),
    "json-duplicate-key.md": (("front matter",), "invalid JSON: duplicate key 'title'"),
    "json-deep-nesting.md": (("front matter",), "invalid JSON: nested too deep"),
    "json-nan.md": (("front matter",), "invalid JSON: NaN is not a JSON value"),
    "json-list.md": (("front matter",), "invalid JSON"),
    "date-feb-30.md": (("date",), "'2022-02-30' is not a date"),
    "date-month-13.md": (("date",), "'2022-13-01' is not a date"),
    "date-rfc822-feb-30.md": (("date",), "'Wed, 30 Feb 2022 10:33:00 GMT' is not a date"),
    "date-text.md": (("date",), "'next tuesday' is not a date"),
    "date-list.md": (("date",), "is not a date"),
    "date-bool.md": (("date",), "bool True is not a date"),
    "date-float.md": (("date",), "float 1651660380.5 is not a date"),
    "date-huge-number.md": (("date",), "int 99999999999999999999 is not a date"),
    "updated-not-a-date.md": (("updated",), "'later' is not a date"),
    "categories-mapping.md": (("categories",), "is a mapping"),
    "draft-not-boolean.md": (("draft",), "'maybe' is not a boolean"),
    "several-bad-fields.md": (("date", "categories"), "'2022-02-30' is not a date"),
    "binary-png.markdown": (("encoding",), "not text"),
    "utf16-broken.markdown": (("encoding",), "invalid UTF-16"),
    "latin1.markdown": (("encoding",), "not text"),
}

PROBLEM_FORM = re.compile(r"[a-z ]+: .+ \(expected .+\)")


@pytest.fixture(scope="module")
def site() -> Settings:
    """Settings of the test site: https://www.example.com/, Asia/Shanghai."""
    return make_settings(Path("/srv/content"))


def parse_file(path: Path, settings: Settings) -> Article | Problem:
    """Parse one data file as the scanner would, its name as the source."""
    return parse_article(path.read_bytes(), source=path.name, mtime=MTIME, settings=settings)


def test_every_data_file_has_a_row_and_every_row_a_file() -> None:
    """The tables and the data folders list the same cases."""
    assert sorted(p.name for p in VALID_DIR.iterdir()) == sorted(VALID)
    assert sorted(p.name for p in INVALID_DIR.iterdir()) == sorted(INVALID)


@pytest.mark.parametrize(("name", "expected"), sorted(VALID.items()), ids=sorted(VALID))
def test_valid_files_become_articles(name: str, expected: dict[str, Any], site: Settings) -> None:
    """Each valid data file becomes the Article its row describes, with defaults for what the row leaves out."""
    raw = (VALID_DIR / name).read_bytes()
    article = parse_file(VALID_DIR / name, site)
    assert isinstance(article, Article), article
    assert article.source == name
    assert article.title == expected["title"]
    assert len(article.title) <= MAX_TITLE_CHARS
    assert article.published == expected["published"]
    assert article.updated == expected.get("updated", expected["published"])
    assert article.categories == expected.get("categories", ())
    assert article.tags == expected.get("tags", ())
    assert article.author == expected.get("author")
    assert article.summary == expected.get("summary")
    assert article.image == expected.get("image")
    assert article.draft is expected.get("draft", False)
    assert article.language == expected.get("language")
    assert tuple(w.split(":")[0] for w in article.warnings) == expected.get("warnings", ())
    if "link" in expected:
        assert article.link == expected["link"]
    assert article.link.startswith(("https://", "http://"))
    assert article.id == expected.get("id", article.link)
    body = read_body(raw)
    assert body is not None
    if "body" in expected:
        assert body == expected["body"]
    assert article.fingerprint.startswith(hashlib.sha1(raw, usedforsecurity=False).hexdigest()[:16])
    for text in (article.title, article.link, article.id, body, *article.categories, *article.tags):
        assert xml_compatible(text), text


@pytest.mark.parametrize(("name", "expected"), sorted(INVALID.items()), ids=sorted(INVALID))
def test_invalid_files_become_problems(name: str, expected: tuple[tuple[str, ...], str], site: Settings) -> None:
    """Each invalid data file becomes one Problem `field: reason (expected …)` naming every bad field."""
    fields, fragment = expected
    problem = parse_file(INVALID_DIR / name, site)
    assert isinstance(problem, Problem), problem
    assert problem.source == name
    assert str(problem) == f"{name}: {problem.reason}"
    parts = problem.reason.split("; ")
    assert [part.split(": ")[0] for part in parts] == list(fields)
    assert fragment in problem.reason
    for part in parts:
        assert PROBLEM_FORM.fullmatch(part), part


def test_python_tags_in_front_matter_run_nothing(tmp_path: Path, site: Settings) -> None:
    """A `!!python/object/apply` tag that would create a file is refused and the file never appears."""
    target = tmp_path / "pwned"
    raw = (
        f"---\ntitle: !!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path ['{target}']]\n---\n"
    )
    assert isinstance(parse_article(raw.encode(), source="a.md", mtime=MTIME, settings=site), Problem)
    assert not target.exists()


# decode_text


TEXT = "---\ntitle: 中文标题\n---\n正文\n"


@pytest.mark.parametrize(
    "raw",
    [
        TEXT.encode("utf-8"),
        codecs.BOM_UTF8 + TEXT.encode("utf-8"),
        codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
        TEXT.encode("gb18030"),
        TEXT.replace("\n", "\r\n").encode("utf-8"),
        TEXT.replace("\n", "\r").encode("utf-8"),
        codecs.BOM_UTF16_LE + TEXT.replace("\n", "\r\n").encode("utf-16-le"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-le", "utf-16-be", "gb18030", "crlf", "cr", "utf-16-crlf"],
)
def test_decode_text_reads_every_supported_encoding(raw: bytes) -> None:
    """UTF-8 (BOM dropped), UTF-16 with a BOM and GB18030 decode to the same text, line endings made LF."""
    assert decode_text(raw) == TEXT


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"a\x07b\x1bc\x7fd\x0ce\x0bf", "abcdef"),
        ("a\u0085b\u009fc".encode(), "abc"),
        ("a\ufffeb\uffffc".encode(), "abc"),
        (b"tab\tand\nnewline", "tab\tand\nnewline"),
        (b"a stray\x00 NUL", "a stray NUL"),
        (codecs.BOM_UTF16_LE + "a\x00b".encode("utf-16-le"), "ab"),
    ],
)
def test_decode_text_removes_control_characters(raw: bytes, expected: str) -> None:
    """Control characters XML and YAML refuse are removed; tab and newline stay."""
    assert decode_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"---\ntitle: a\x00b\n---\n" * 2 + b"\x00" * 20, "NUL bytes"),
        ("---\ntitle: UTF-16 without a BOM\n---\n".encode("utf-16-le"), "NUL bytes"),
        (b"\x00\xff" * 40, "NUL bytes"),
        (bytes(range(128, 256)), "not text"),
        ("café".encode("latin-1") + b"\n", "not text"),
        (codecs.BOM_UTF16_LE + b"a\x00\x00\xd8", "invalid UTF-16"),
    ],
)
def test_decode_text_refuses_bytes_that_are_not_text(raw: bytes, fragment: str) -> None:
    """Binary data, NULs and bytes valid in no supported encoding raise NotText naming the encoding field."""
    with pytest.raises(NotText) as caught:
        decode_text(raw)
    assert str(caught.value).startswith("encoding: bytes are not text")
    assert fragment in str(caught.value)
    assert PROBLEM_FORM.fullmatch(str(caught.value))


# split_front_matter


def test_split_front_matter_returns_fields_and_body() -> None:
    """The YAML between the fences is a mapping of text keys; the body follows without its leading blank lines."""
    data, body = split_front_matter("---\ntitle: x\n1: one\n---\n\n\nbody\n---\nmore\n")
    assert data == {"title": "x", "1": "one"}
    assert body == "body\n---\nmore\n"


def test_split_front_matter_of_empty_yaml_is_an_empty_mapping() -> None:
    """Two fences with nothing between give no fields, not an error."""
    assert split_front_matter("---\n---\nbody") == ({}, "body")


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("---\ntitle: x\ntitle: y\n---\n", "line 3, column 1"),
        ("\n\n---\ntitle: x\ntitle: y\n---\n", "line 5, column 1"),
        ("---   \n\n\ntitle: x\ntitle: y\n---\n", "line 5, column 1"),
        ("---\ntitle: [unclosed\nnext: 1\n---\n", "line 2, column 8"),
        ("\ufeff\n---\na: 1\nb: c: d\n---\n", "line 4, column 5"),
    ],
)
def test_yaml_errors_name_the_line_of_the_file(text: str, position: str) -> None:
    """YAML errors count lines in the whole file: the fence and any blank lines around it included."""
    with pytest.raises(ValueError, match="front matter: ") as caught:
        split_front_matter(text)
    assert position in str(caught.value)


# article_link


@pytest.mark.parametrize(
    ("slug", "published", "sections", "expected"),
    [
        ("hello", utc(2022, 5, 4, 20), {}, SITE + "2022/05/05/hello/"),
        ("hello", utc(2022, 5, 4, 15, 59), {}, SITE + "2022/05/04/hello/"),
        ("hello", utc(2022, 5, 4, 20), {"site": {"timezone": "UTC"}}, SITE + "2022/05/04/hello/"),
        ("hello", utc(2022, 5, 4, 2), {"site": {"timezone": "America/New_York"}}, SITE + "2022/05/03/hello/"),
        ("中 文", utc(2022, 5, 4), {}, SITE + "2022/05/04/%E4%B8%AD%20%E6%96%87/"),
        ("a#b?c%d", utc(2022, 5, 4), {}, SITE + "2022/05/04/a%23b%3Fc%25d/"),
        ("a/b", utc(2022, 5, 4), {}, SITE + "2022/05/04/a/b/"),
        ("../../x", utc(2022, 5, 4), {}, SITE + "2022/05/04/x/"),
        ("..", utc(2022, 5, 4), {}, SITE + "2022/05/04/article/"),
        ("", utc(2022, 5, 4), {}, SITE + "2022/05/04/article/"),
        (
            "x",
            utc(2022, 5, 4, 1, 2, 3),
            {"content": {"permalink": "/{year}{month:02d}{day:02d}-{hour}{minute}{second}/{slug}.html"}},
            SITE + "20220504-923/x.html",
        ),
        (
            "x",
            utc(2022, 5, 4),
            {"site": {"link": "https://example.org/blog"}},
            "https://example.org/blog/2022/05/04/x/",
        ),
    ],
)
def test_article_link_fills_the_permalink_in_the_site_zone(
    slug: str, published: dt.datetime, sections: dict[str, Any], expected: str
) -> None:
    """The permalink's date fields are taken in site.timezone and the slug is percent-encoded under site.link."""
    settings = make_settings(Path("/srv/content"), **sections)
    assert article_link(slug, published, settings) == expected


# Fields, one at a time.


def article(settings: Settings, front: str, body: str = "body\n", source: str = "post.md") -> Article:
    """Parse front matter text (with a fixed date unless given) that must give an Article."""
    if "date:" not in front:
        front += "date: 2022-05-04T10:33:00Z\n"
    result = parse_article(f"---\n{front}---\n{body}".encode(), source=source, mtime=MTIME, settings=settings)
    assert isinstance(result, Article), result
    return result


def test_missing_date_uses_the_modification_time_with_a_warning(site: Settings) -> None:
    """Without a date the file's mtime (whole seconds) is the date, with a warning; updated follows it."""
    result = parse_article(b"---\ntitle: x\n---\n", source="a.md", mtime=MTIME, settings=site)
    assert isinstance(result, Article)
    assert result.published == result.updated == MTIME_DATE
    assert result.warnings == (
        "date: missing, using the file's modification time; the link and id leave the date out (expected a date)",
    )


def test_fingerprint_without_a_date_changes_with_the_modification_time(site: Settings) -> None:
    """Undated articles change fingerprint when their mtime (their date) changes, even with the same bytes."""
    raw = b"---\ntitle: x\n---\n"
    first = parse_article(raw, source="a.md", mtime=MTIME, settings=site)
    later = parse_article(raw, source="a.md", mtime=MTIME + 60, settings=site)
    assert isinstance(first, Article)
    assert isinstance(later, Article)
    assert first.fingerprint != later.fingerprint


def test_fingerprint_changes_when_the_bytes_change(site: Settings) -> None:
    """The same bytes give the same fingerprint; any changed byte gives another."""
    one = article(site, "title: x\n")
    same = article(site, "title: x\n")
    other = article(site, "title: x\n", body="body!\n")
    crlf = parse_article(
        b"---\r\ntitle: x\r\ndate: 2022-05-04T10:33:00Z\r\n---\r\nbody\r\n", source="post.md", mtime=0, settings=site
    )
    assert isinstance(crlf, Article)
    assert one.fingerprint == same.fingerprint
    assert len({one.fingerprint, other.fingerprint, crlf.fingerprint}) == 3


def test_fingerprint_does_not_depend_on_the_modification_time_when_dated(site: Settings) -> None:
    """A dated article keeps its fingerprint when only its mtime changes (a touch does not rebuild feeds)."""
    raw = b"---\ntitle: x\ndate: 2022-05-04\n---\n"
    first = parse_article(raw, source="a.md", mtime=1, settings=site)
    second = parse_article(raw, source="a.md", mtime=2, settings=site)
    assert isinstance(first, Article)
    assert isinstance(second, Article)
    assert first.fingerprint == second.fingerprint


@pytest.mark.parametrize(
    ("front", "expected"),
    [
        ("updated: 2022-05-06T00:00:00Z\n", utc(2022, 5, 6)),
        ("updated: 2022-05-01T00:00:00Z\n", utc(2022, 5, 4, 10, 33)),
        ("updated:\n", utc(2022, 5, 4, 10, 33)),
        ("updated: 1651881600\n", utc(2022, 5, 7)),
    ],
)
def test_updated_defaults_to_date_and_is_never_before_it(site: Settings, front: str, expected: dt.datetime) -> None:
    """`updated` is read like `date`, defaults to it, and is never earlier than it."""
    assert article(site, "title: x\n" + front).updated == expected


def test_long_latin_titles_are_cut_between_words(site: Settings) -> None:
    """A very long title of words is cut to at most MAX_TITLE_CHARS, ending in '…' after a whole word."""
    title = article(site, "title: " + "word " * 4000 + "\n").title
    assert len(title) <= MAX_TITLE_CHARS
    assert title.endswith("word…")


@pytest.mark.parametrize(
    ("front", "expected"),
    [
        ("title: '  spaced \t out  '\n", "spaced out"),
        ('title: "a\\u0007b\\x1bc"\n', "abc"),
        ("title: 1.0e+3\n", "1000.0"),
        ("title: false\n", "false"),
        ("title: 2022-05-04 10:33:00\n", "2022-05-04T10:33:00"),
        ("title: '<b>bold</b> & co'\n", "<b>bold</b> & co"),
    ],
)
def test_titles_are_one_line_of_text(site: Settings, front: str, expected: str) -> None:
    """Titles collapse white space, lose control characters, and numbers, booleans and dates become text."""
    assert article(site, front).title == expected


@pytest.mark.parametrize(
    ("front", "categories", "tags"),
    [
        ("categories: [a, b, a]\n", ("a", "b"), ()),
        ("categories: a\ntags: [x, [y, [z]]]\n", ("a",), ("x", "y", "z")),
        ("categories: [' a  b ', '', '   ']\n", ("a b",), ()),
        ("categories: [2022-05-04, 7, false, null, [null]]\n", ("2022-05-04", "7", "false"), ()),
        ("categories: 42\ntags: 3.5\n", ("42",), ("3.5",)),
        ("categories: []\ntags: []\n", (), ()),
        ("categories: [a]\ncategory: [b, a]\n", ("a", "b"), ()),
        ('tags: "x\\u0000y"\n', (), ("xy",)),
    ],
)
def test_categories_and_tags(site: Settings, front: str, categories: tuple[str, ...], tags: tuple[str, ...]) -> None:
    """Categories and tags are a name or nested lists of names, as text, without duplicates, empties or nulls."""
    result = article(site, "title: x\n" + front)
    assert (result.categories, result.tags) == (categories, tags)


@pytest.mark.parametrize(
    ("front", "author", "warned"),
    [
        ("author: 新华社\n", Author("新华社"), False),
        ("author: 42\n", Author("42"), False),
        ("author: {name: Jane, email: jane@example.com}\n", Author("Jane", "jane@example.com"), False),
        ("author: {email: jane@example.com}\n", Author("jane@example.com", "jane@example.com"), False),
        ("author: {name: Jane}\n", Author("Jane"), False),
        ("author: {name: Jane, email: not an address}\n", Author("Jane"), True),
        ("author: [Jane, Joe]\n", Author("Jane"), False),
        ("author: [null, Joe]\n", Author("Joe"), False),
        ("author: {}\n", None, True),
        ("author: '   '\n", None, True),
        ("author: [[a]]\n", None, True),
        ("author:\n", None, False),
    ],
)
def test_author_is_a_name_or_a_name_and_email(site: Settings, front: str, author: Author | None, warned: bool) -> None:
    """`author` is a string or a mapping with name/email; what is neither is dropped with a warning."""
    result = article(site, "title: x\n" + front)
    assert result.author == author
    assert any(w.startswith("author:") for w in result.warnings) is warned


@pytest.mark.parametrize(
    ("front", "summary"),
    [
        ("description: d\nsummary: s\nexcerpt: e\n", "d"),
        ("summary: s\nexcerpt: e\n", "s"),
        ("excerpt: e\n", "e"),
        ("description: ''\nsummary: '  '\nexcerpt: e\n", "e"),
        ("description: [a list]\nsummary: s\n", "s"),
        ("summary: 2022\n", "2022"),
        ('summary: "line one\\n  line two"\n', "line one\n  line two"),
        ("summary: '" + "long " * 200 + "'\n", ("long " * 200).strip()),
        ("", None),
    ],
)
def test_summary_fields_are_used_as_given(site: Settings, front: str, summary: str | None) -> None:
    """description, then summary, then excerpt: the first non-empty one is the summary, not cut."""
    assert article(site, "title: x\n" + front).summary == summary


@pytest.mark.parametrize(
    ("front", "draft"),
    [
        ("draft: true\n", True),
        ("draft: false\n", False),
        ("draft: 'yes'\n", True),
        ("draft: 'no'\n", False),
        ("draft: 'True'\n", True),
        ("published: false\n", True),
        ("published: true\n", False),
        ("published: true\ndraft: true\n", True),
        ("draft:\npublished:\n", False),
        ("", False),
    ],
)
def test_drafts(site: Settings, front: str, draft: bool) -> None:
    """`draft: true` and `published: false` hold an article back; anything else publishes it."""
    assert article(site, "title: x\n" + front).draft is draft


@pytest.mark.parametrize(
    ("front", "link"),
    [
        ("link: https://news.example.org/1.html\n", "https://news.example.org/1.html"),
        ("link: http://news.example.org/1.html\n", "http://news.example.org/1.html"),
        ("permalink: /p/1/\n", SITE + "p/1/"),
        ("permalink: p/1/\n", SITE + "p/1/"),
        ("link: //cdn.example.org/1\n", "https://cdn.example.org/1"),
        ("link: https://a.example/1\npermalink: /ignored/\n", "https://a.example/1"),
        ("link: https://例子.example/路径\n", "https://xn--fsqu00a.example/%E8%B7%AF%E5%BE%84"),
        ("link: 'javascript:alert(1)'\n", SITE + "2022/05/04/post/"),
        ("link: 'mailto:a@b.c'\n", SITE + "2022/05/04/post/"),
        ("slug: custom\n", SITE + "2022/05/04/custom/"),
        ("slug: 2022\n", SITE + "2022/05/04/2022/"),
        ("", SITE + "2022/05/04/post/"),
    ],
)
def test_link_permalink_and_slug(site: Settings, front: str, link: str) -> None:
    """`link`/`permalink` give the URL (relative to site.link); otherwise the permalink pattern with the slug."""
    result = article(site, "title: x\n" + front)
    assert result.link == link
    assert result.id == link


@pytest.mark.parametrize(
    ("front", "identity"),
    [
        ("id: urn:x:1\n", "urn:x:1"),
        ("id: 42\n", "42"),
        ("id: '  a   b  '\n", "a b"),
        ("id: ''\n", SITE + "2022/05/04/post/"),
        ("id: [1]\n", SITE + "2022/05/04/post/"),
        ("link: https://x.example/1\n", "https://x.example/1"),
    ],
)
def test_id_defaults_to_the_link(site: Settings, front: str, identity: str) -> None:
    """`id` is kept as given on one line; without one the article URL is its identity."""
    assert article(site, "title: x\n" + front).id == identity


@pytest.mark.parametrize(
    ("source", "link"),
    [
        ("2022/05/hello.md", SITE + "2022/05/04/hello/"),
        ("a.b.markdown", SITE + "2022/05/04/a.b/"),
        ("my post #1.md", SITE + "2022/05/04/my%20post%20%231/"),
        ("新闻/中文标题.md", SITE + "2022/05/04/%E4%B8%AD%E6%96%87%E6%A0%87%E9%A2%98/"),
        ("café.md", SITE + "2022/05/04/caf%C3%A9/"),
    ],
)
def test_slug_defaults_to_the_file_name_without_extension(site: Settings, source: str, link: str) -> None:
    """The default slug is the file's stem, percent-encoded in the URL."""
    assert article(site, "title: x\n", source=source).link == link


@pytest.mark.parametrize(
    ("front", "image", "warned"),
    [
        ("thumbnail: https://i.example/t.png\nheadimg: https://i.example/h.png\n", "https://i.example/t.png", ()),
        ("headimg: https://i.example/h.png\ncover: https://i.example/c.png\n", "https://i.example/h.png", ()),
        ("cover: https://i.example/c.png\nimage: https://i.example/i.png\n", "https://i.example/c.png", ()),
        ("image: /uploads/i.png\n", SITE + "uploads/i.png", ()),
        ("image: uploads/中文.png\n", SITE + "uploads/%E4%B8%AD%E6%96%87.png", ()),
        ("thumbnail: ''\nimage: //cdn.example/i.png\n", "https://cdn.example/i.png", ()),
        (
            "thumbnail: 'javascript:alert(1)'\ncover: https://i.example/c.png\n",
            "https://i.example/c.png",
            ("thumbnail",),
        ),
        ("thumbnail: ' JaVaScRiPt:alert(1)'\n", None, ("thumbnail",)),
        ("thumbnail: 'data:image/png;base64,AAAA'\n", None, ("thumbnail",)),
        ("thumbnail: 'ftp://i.example/x.png'\n", None, ("thumbnail",)),
        ("thumbnail: 'https://i.example/a b.png'\n", None, ("thumbnail",)),
        ("thumbnail: 'https://i.example/<x>.png'\n", None, ("thumbnail",)),
        ("thumbnail: 12345\n", None, ("thumbnail",)),
        ("thumbnail: false\n", None, ("thumbnail",)),
        ("thumbnail: [https://i.example/t.png]\n", None, ("thumbnail",)),
        ("thumbnail: {url: https://i.example/t.png}\n", None, ("thumbnail",)),
    ],
)
def test_image_fields(site: Settings, front: str, image: str | None, warned: tuple[str, ...]) -> None:
    """The first of thumbnail, headimg, cover, image giving a safe http(s) URL wins; unsafe ones warn."""
    result = article(site, "title: x\n" + front)
    assert result.image == image
    assert tuple(w.split(":")[0] for w in result.warnings) == warned


def test_several_bad_fields_are_named_in_one_message(site: Settings) -> None:
    """All the bad fields of a file are reported together, in field order, in one problem."""
    raw = (
        b"---\ntitle: [a]\ndraft: sometimes\ndate: 2022-02-30\nupdated: never\n"
        b"categories: {x: 1}\ntags: [{y: 2}]\n---\n"
    )
    problem = parse_article(raw, source="bad.md", mtime=MTIME, settings=site)
    assert isinstance(problem, Problem)
    assert [part.split(":")[0] for part in problem.reason.split("; ")] == [
        "title",
        "draft",
        "date",
        "updated",
        "categories",
        "tags",
    ]


def test_every_string_field_is_xml_compatible(site: Settings) -> None:
    """Hostile characters in every field never reach an Article: lxml accepts every string it holds."""
    nasty = "\\x01\\x08\\x0b\\x0c\\x1f\\x7f\\x80\\x9f\\ufffe\\uffff"
    front = "".join(f'{name}: "a{nasty}b"\n' for name in ("title", "slug", "id", "description", "link", "thumbnail"))
    front += f'categories: ["c{nasty}"]\ntags: ["t{nasty}"]\nauthor: {{name: "n{nasty}", email: "e{nasty}@x.org"}}\n'
    result = article(site, front, body="body\x01\x0b\ufffe\n")
    body = read_body(f"---\n{front}---\nbody\x01\x0b\ufffe\n".encode())
    assert body is not None
    strings = [result.title, result.link, result.id, body, result.fingerprint, *result.categories, *result.tags]
    strings += [result.summary or "", result.image or "", *result.warnings]
    assert result.author is not None
    strings += [result.author.name, result.author.email or ""]
    assert all(xml_compatible(text) for text in strings)
    assert result.title.startswith("a")
    assert result.title.endswith("b")
