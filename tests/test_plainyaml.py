"""The quick reader of plain front matter gives exactly what the safe YAML loader gives, or leaves the text to it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from feedsvc.parse.plainyaml import quick_load
from feedsvc.safeyaml import YamlError, load_yaml
from tests.conftest import ROOT

TYPICAL = """title: '外资机构加大力度（服务实体经济）'
categories:\x20
 - 金融
 - 证券时报网
author: 中国证券报
comments: false
date: 2023-03-27T07:01:00+08:00
thumbnail: 'https://picsum.photos/400/300?random=5431'
tags: [A股, "港股", 'ETF']
id: 1024
updated:
"""

# Scalars at the edges of YAML 1.1's resolution and of the subset.
TRICKY = [
    "yes",
    "No",
    "ON",
    "off",
    "yEs",
    "true",
    "False",
    "~",
    "null",
    "NULL",
    "Null",
    "nul",
    "0",
    "-0",
    "+5",
    "-5",
    "007",
    "08",
    "0x1F",
    "0b101",
    "1_000",
    "1:20",
    "190:20:30",
    "3.14",
    "1e3",
    "1.0e+3",
    ".inf",
    "-.Inf",
    ".NaN",
    ".net",
    "2024-01-02",
    "2024-02-30",
    "2024-1-2",
    "2024-01-02T03:04:05+08:00",
    "2024-01-02 03:04:05",
    "2024-01-02t03:04:05.5Z",
    "=",
    "<<",
    "-",
    "--",
    "- a",
    "-a",
    "?",
    "?a",
    "? a",
    ":a",
    ":",
    "a: b",
    "a:b",
    "a #b",
    "a#b",
    "C#",
    "#x",
    "'q'",
    "''",
    "'it''s'",
    "'a'b'",
    '"dq"',
    '""',
    '"a\\nb"',
    '"a"b"',
    "[a, b]",
    "[]",
    "[a,,b]",
    "[a, [b]]",
    "['a, b', c]",
    "{a: 1}",
    "{}",
    "&x a",
    "*x",
    "!tag x",
    "!!str 5",
    "|",
    "> x",
    "%x",
    "@x",
    "`x`",
    "中文",
    "中文：冒号",
    ", x",
    "a, b",
    "x ",
    " x",
    "a  b",
    "http://example.com/a?b=c#d",
    "1" * 101,
    "-" + "1" * 100,
    "\t",
    "a\tb",
    "\u3000全角\u3000",
    "\ufeffbom",
    "a\u2028b",
    "é",
    "\x85",
]
KEYS = ["title", "date", "tags", "a b", "yes", "No", "2024", "1.5", "~", "null", "-k", "?k", "k ", "标题", "a#b",
        "a:b", "x-y", "_k", "'q'", '"q"', "[k]", "k\t", "<<", "=", "on"]  # fmt: skip


def typed(value: Any) -> Any:
    """The value with every type spelt out: True is not 1, a date is not a datetime."""
    if isinstance(value, dict):
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(item) for item in value])
    if isinstance(value, dt.datetime):
        return ("datetime", value.isoformat(), str(value.tzinfo))
    return (type(value).__name__, value)


def full_loader(text: str) -> Any:
    try:
        return typed(load_yaml(text))
    except YamlError:
        return "refused"


def assert_same_or_left(text: str) -> bool:
    """Assert that the quick reader agrees with the full loader, or leaves the text to it; tell which."""
    quick = quick_load(text)
    if quick is None:
        return False
    assert typed(quick) == full_loader(text), text
    return True


scalar = st.one_of(
    st.sampled_from(TRICKY), st.text(alphabet=st.sampled_from("ab 中:#-'\"[],{}&*!|>%@`~?.0123\t\\"), max_size=8)
)
value_line = st.one_of(
    scalar,
    scalar.map(lambda s: "'" + s.replace("'", "''") + "'"),
    scalar.map(lambda s: '"' + s + '"'),
    st.lists(scalar, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
)
item_lines = st.tuples(st.sampled_from(["", " ", "  "]), st.lists(value_line, max_size=4)).map(
    lambda pair: "".join(f"\n{pair[0]}- {item}" for item in pair[1])
)
field = st.tuples(
    st.sampled_from(KEYS), st.sampled_from([":", ": ", ":  ", " :", ":\t"]), st.one_of(value_line, st.just(""))
).map(lambda parts: parts[0] + parts[1] + parts[2])
block = st.one_of(
    field,
    st.tuples(st.sampled_from(KEYS), item_lines).map(lambda parts: parts[0] + ":" + parts[1]),
    st.sampled_from(
        ["", "# a comment", "  # indented comment", "   ", "  nested: 1", "---", "...", "key: &a 1", "k2: *a"]
    ),
)
document = st.lists(block, min_size=1, max_size=8).map("\n".join)


@given(document)
@settings(max_examples=500, deadline=None)
@example(TYPICAL)
def test_generated_front_matter_reads_as_the_full_loader_reads_it(text: str) -> None:
    """For any generated front matter the quick reader gives the full loader's values, types included, or None."""
    assert_same_or_left(text)


@pytest.mark.parametrize("scalar_text", TRICKY)
@pytest.mark.parametrize("form", ["key: {}", "key:\n - {}", "key: [{}]", "key: '{}'", 'key: "{}"'])
def test_each_tricky_scalar_reads_as_the_full_loader_reads_it(scalar_text: str, form: str) -> None:
    """Every edge scalar, in each position a value takes, reads as the full loader reads it, or is left to it."""
    assert_same_or_left(form.format(scalar_text))


def test_typical_front_matter_is_read_quickly_and_exactly() -> None:
    """The front matter of a typical article is within the subset, and its values are the full loader's."""
    assert assert_same_or_left(TYPICAL)
    assert quick_load(TYPICAL) == load_yaml(TYPICAL)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2",  # a duplicate key: the full loader names it
        "a:\n  b: 1",  # nesting
        "a: &x 1\nb: *x",  # anchors and aliases
        "a: |\n  text",  # a block scalar
        "a: one\n  two",  # a plain scalar over two lines
        "a: 1.5",  # a float
        "a: 017",  # an octal integer
        "a: x # comment",
        "a: !!str 5",
        "a:\n- 1\n  - 2",  # items at two indents
        "# only a comment",
        "",
    ],
)
def test_text_outside_the_subset_is_left_to_the_full_loader(text: str) -> None:
    """Nesting, aliases, tags, floats, comments after values, duplicate keys and empty text are left to the loader."""
    assert quick_load(text) is None


def test_every_front_matter_in_the_test_data_reads_as_the_full_loader_reads_it() -> None:
    """The front matter of every article file under tests/data reads the same with the quick reader."""
    files = sorted((ROOT / "tests" / "data").rglob("*.md"))
    quick = 0
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
        if not text.startswith("---\n") or "\n---" not in text[3:]:
            continue
        quick += assert_same_or_left(text[4 : text.index("\n---", 3) + 1])
    assert len(files) > 50
    assert quick > 20  # the test data does exercise the quick reader
