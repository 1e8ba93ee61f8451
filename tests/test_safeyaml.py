"""safeyaml: plain data only, duplicate keys refused, alias bombs and deep nesting refused, positions in the file."""

from __future__ import annotations

import datetime as dt
import time
import tracemalloc

import pytest

from feedsvc.safeyaml import MAX_EXPANDED_NODES, YamlError, load_yaml


def laughs(levels: int, width: int = 10) -> str:
    """Return a "billion laughs" document: each level is `width` aliases of the level below."""
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "title: 中文\ncount: 3\nratio: 1.5\nok: true\nnothing: null\n",
            {"title": "中文", "count": 3, "ratio": 1.5, "ok": True, "nothing": None},
        ),
        ("tags: [a, b]\nnested: {x: [1, {y: 2}]}\n", {"tags": ["a", "b"], "nested": {"x": [1, {"y": 2}]}}),
        ("date: 2022-05-04\n", {"date": dt.date(2022, 5, 4)}),
        ("at: 2022-05-04 10:33:00\n", {"at": dt.datetime(2022, 5, 4, 10, 33)}),
        ("quoted: '2022-05-04'\n", {"quoted": "2022-05-04"}),
        ("", None),
        ("# only a comment\n", None),
    ],
)
def test_plain_data(text: str, expected: object) -> None:
    """Plain YAML becomes plain Python values: text, numbers, booleans, null, lists, mappings, dates."""
    assert load_yaml(text) == expected


def test_aware_timestamp_keeps_its_offset() -> None:
    """A timestamp with an offset becomes an aware datetime at that offset."""
    value = load_yaml("at: 2022-05-04 10:33:00 +08:00\n")["at"]
    assert value == dt.datetime(2022, 5, 4, 2, 33, tzinfo=dt.UTC)
    assert value.utcoffset() == dt.timedelta(hours=8)


@pytest.mark.parametrize(
    ("text", "key", "line", "column"),
    [
        ("a: 1\nb: 2\na: 3\n", "a", 3, 1),
        ("outer:\n  x: 1\n  y: 2\n  x: 3\n", "x", 4, 3),
        ("{a: 1, b: 2, a: 3}\n", "a", 1, 14),
        ("1: one\n1: uno\n", 1, 2, 1),
    ],
)
def test_duplicate_keys_are_refused_with_their_position(text: str, key: object, line: int, column: int) -> None:
    """A key given twice is refused, naming the key and the line and column of its second use."""
    with pytest.raises(YamlError, match="duplicate key") as caught:
        load_yaml(text)
    assert f"{key!r} at line {line}, column {column}" in str(caught.value)
    assert "(expected each key once)" in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object/apply:os.system ['echo pwned']\n",
        "a: !!python/object:collections.OrderedDict {}\n",
        "a: !!python/name:os.system\n",
        "a: !!python/module:os\n",
        "!!python/object/new:list [[1]]\n",
        "a: !!python/tuple [1, 2]\n",
        "a: !custom value\n",
        "a: !<tag:example.com,2024:thing> value\n",
    ],
)
def test_unsafe_and_unknown_tags_are_refused(text: str) -> None:
    """Python object tags and unknown tags are refused as invalid YAML; nothing is constructed or run."""
    with pytest.raises(YamlError, match=r"invalid YAML: could not determine a constructor .* at line 1, column"):
        load_yaml(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: !!int abc\n",
        "a: !!float abc\n",
        "a: !!bool maybe\n",
        "a: !!timestamp soon\n",
        "a: !!map [1]\n",
        "a: !!set [1]\n",
        "a: !!str [1]\n",
        "<<: 1\n",
    ],
)
def test_badly_tagged_values_are_yaml_errors(text: str) -> None:
    """An explicit tag on a value it cannot describe is a YamlError, never another exception."""
    with pytest.raises(YamlError, match="invalid YAML"):
        load_yaml(text)


def test_billion_laughs_is_refused_quickly_in_bounded_memory() -> None:
    """An alias bomb (10^9 values once expanded) is refused in well under a second without expanding it."""
    text = laughs(9)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(YamlError, match=f"aliases expand to more than {MAX_EXPANDED_NODES:,} values"):
            load_yaml(text)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 20_000_000


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("a: &a [*a]\n", "line 1, column 4"),
        ("x: 1\na: &a {b: *a}\n", "line 2, column 4"),
        ("a: &a {<<: *a}\n", "line 1, column 4"),
        ("a: &a [1, [2, [3, *a]]]\n", "line 1, column 4"),
        ("- &a [*a]\n- *a\n", "line 1, column 3"),
    ],
)
def test_a_value_containing_itself_is_refused(text: str, position: str) -> None:
    """A recursive alias (a list or mapping that contains itself) is refused at once, naming where it starts."""
    with pytest.raises(YamlError, match=f"an alias contains itself at {position}"):
        load_yaml(text)


def test_recursive_alias_position_counts_from_first_line() -> None:
    """The position of a recursive alias is counted in the file when the YAML starts below its first line."""
    with pytest.raises(YamlError, match="at line 5, column 4"):
        load_yaml("a: &a [*a]\n", first_line=5)


def test_small_aliases_still_work() -> None:
    """Aliases that expand to a handful of values are ordinary YAML and load."""
    data = load_yaml(laughs(2, width=3))
    assert data["l2"] == [[["lol"] * 3] * 3] * 3
    assert load_yaml("a: &a {k: 1}\nb:\n  <<: *a\n  c: *a\n")["b"] == {"k": 1, "c": {"k": 1}}


def test_expansion_limit_is_a_parameter() -> None:
    """`max_nodes` bounds the expanded size: the same document loads under a larger bound only."""
    text = laughs(3, width=10)  # about 12,000 values once expanded
    with pytest.raises(YamlError, match="aliases expand to more than 5,000 values"):
        load_yaml(text, max_nodes=5_000)
    assert len(load_yaml(text, max_nodes=50_000)["l3"]) == 10


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 100_000 + "]" * 100_000,
        "a: " + "{a: " * 20_000 + "1" + "}" * 20_000,
        "".join(" " * depth + "a:\n" for depth in range(3_000)),
        "".join(" " * depth + "- \n" for depth in range(3_000)),
        "a: " + "[" * 100_000,
    ],
    ids=["flow-sequences", "flow-mappings", "block-mappings", "block-sequences", "unclosed"],
)
def test_deep_nesting_is_refused_not_crashing(text: str) -> None:
    """Nesting thousands of levels deep is a YamlError, not a RecursionError or a crash."""
    with pytest.raises(YamlError, match="invalid YAML"):
        load_yaml(text)


def test_moderate_nesting_loads() -> None:
    """Nesting a few hundred levels deep is still valid YAML."""
    value = load_yaml("a: " + "[" * 200 + "]" * 200)["a"]
    for _ in range(199):
        value = value[0]
    assert value == []


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("d: 2022-02-30\n", "d", "2022-02-30"),
        ("d: 2022-13-01\n", "d", "2022-13-01"),
        ("d: 2022-05-04 25:00:00\n", "d", "2022-05-04 25:00:00"),
        ("d: !!timestamp 2022-02-30\n", "d", "2022-02-30"),
    ],
)
def test_impossible_timestamps_are_kept_as_text(text: str, key: str, expected: str) -> None:
    """A timestamp that names no real moment (Feb 30, month 13, hour 25) is kept as the text written."""
    assert load_yaml(text)[key] == expected


@pytest.mark.parametrize(
    "literal",
    ["1" * 5000, "0x" + "f" * 5000, ":".join(["59"] * 3000), "-" + "9" * 200],
    ids=["decimal", "hex", "sexagesimal", "negative"],
)
def test_numbers_too_long_to_print_are_kept_as_text(literal: str) -> None:
    """An integer literal of hundreds of digits is kept as text, so str() of it can never fail later."""
    value = load_yaml(f"n: {literal}\n")["n"]
    assert value == literal
    assert str(value) == literal


def test_ordinary_integers_stay_numbers() -> None:
    """Integers of ordinary size, in any YAML 1.1 notation, are still numbers."""
    assert load_yaml("a: 1651660380\nb: 0x1F\nc: 017\nd: 1_000\ne: 99999999999999999999\n") == {
        "a": 1651660380,
        "b": 31,
        "c": 15,
        "d": 1000,
        "e": 99999999999999999999,
    }


def test_merge_keys_still_work() -> None:
    """`<<: *anchor` merges a mapping, and keys written next to it override the merged ones."""
    data = load_yaml("base: &base {author: 新华社, lang: zh}\npost:\n  <<: *base\n  lang: en\n")
    assert data["post"] == {"author": "新华社", "lang": "en"}


def test_merge_of_several_mappings() -> None:
    """`<<: [*a, *b]` merges several mappings, the first one winning on shared keys."""
    data = load_yaml("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n")
    assert data["c"] == {"x": 1, "y": 2}


@pytest.mark.parametrize(
    ("text", "first_line", "position"),
    [
        ("title: [unclosed\nnext: 1\n", 1, "at line 2, column 5"),
        ("title: [unclosed\nnext: 1\n", 2, "at line 3, column 5"),
        ("a: b: c\n", 1, "at line 1, column 5"),
        ("a: b: c\n", 10, "at line 10, column 5"),
        ("\n\nok: 1\nbad: 'open\n", 4, "at line 8, column 1"),
    ],
)
def test_errors_carry_line_and_column_in_the_file(text: str, first_line: int, position: str) -> None:
    """Syntax errors name the line (counted from `first_line`) and the column where YAML noticed them."""
    with pytest.raises(YamlError, match="invalid YAML") as caught:
        load_yaml(text, first_line=first_line)
    assert position in str(caught.value)


def test_duplicate_key_line_counts_from_first_line() -> None:
    """The line of a duplicate key is counted in the file when the YAML starts below its first line."""
    with pytest.raises(YamlError, match=r"duplicate key 'a' at line 12, column 1"):
        load_yaml("a: 1\nb: 2\na: 3\n", first_line=10)


def test_unhashable_keys_are_yaml_errors() -> None:
    """A list used as a mapping key is refused as invalid YAML, not a TypeError."""
    with pytest.raises(YamlError, match="unhashable key"):
        load_yaml("? [a, b]\n: value\n")


def test_several_documents_are_refused() -> None:
    """Front matter is one document: a second '---' document inside it is refused."""
    with pytest.raises(YamlError, match="single document"):
        load_yaml("a: 1\n---\nb: 2\n")


def test_yaml_error_is_a_value_error() -> None:
    """YamlError is a ValueError, so callers that treat bad input as a value error catch it."""
    assert issubclass(YamlError, ValueError)
