"""Load YAML as plain data: safe tags only, no duplicate keys, bounded alias expansion.

The only module that imports PyYAML. Errors carry the line and column YAML reports.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from feedsvc.errors import UnusualScalar
from feedsvc.errors import YamlError as YamlError  # noqa: PLC0414 - re-exported for the config readers

# Front matter never needs more than this many values once aliases are expanded;
# a "billion laughs" document expands to billions and is refused before use.
MAX_EXPANDED_NODES = 100_000
# An integer written with more characters than this is kept as text: Python refuses
# str() of ints over 4,300 digits (and `0x` + 4,000 digits builds one), so such a
# number would break every later use of the value.
MAX_INTEGER_CHARS = 100
# Every message ends in "(expected …)", as problems users see do.
_EXPECTED = "expected plain YAML: text, numbers, dates, lists and mappings"

_BaseLoader: type[yaml.SafeLoader]
try:  # libyaml is much faster and caps nesting depth itself
    _BaseLoader = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """SafeLoader that refuses duplicate keys and keeps impossible timestamps as text."""

    first_line = 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == "tag:yaml.org,2002:str":
                key: Any = key_node.value  # the common case, read without constructing it twice
            else:
                key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: SafeConstructor reports it below
                continue
            if duplicate:
                mark = key_node.start_mark
                raise YamlError(
                    f"duplicate key {key!r} at line {mark.line + self.first_line}, column {mark.column + 1}"
                    " (expected each key once)"
                )
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]

    def construct_yaml_int(self, node: yaml.ScalarNode) -> Any:
        text = self.construct_scalar(node)
        if len(text) > MAX_INTEGER_CHARS:
            return text
        return super().construct_yaml_int(node)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        # PyYAML raises on 2022-02-30; keep the text so the caller can name the field.
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)

# For readers of plain scalars outside a document (quickyaml): PyYAML's own resolution.
PLAIN_TYPED_START = frozenset(yaml.resolver.Resolver.yaml_implicit_resolvers)  # first characters of non-text
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = _Loader("")
_BOOLS = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")


def plain_value(text: str) -> Any:
    """Return the value the loader gives a one-line plain scalar: text, a boolean, None, an integer or a timestamp.

    Raises:
        UnusualScalar: YAML reads the scalar as another type; only the full loader makes it.
    """
    if text[:1] not in PLAIN_TYPED_START:
        return text
    tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    if tag == "tag:yaml.org,2002:str":
        return text
    if tag == "tag:yaml.org,2002:bool":
        return _BOOLS[text.lower()]
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:int" and _DECIMAL.fullmatch(text) is not None:
        return text if len(text) > MAX_INTEGER_CHARS else int(text)
    if tag == "tag:yaml.org,2002:timestamp":
        return _CONSTRUCTOR.construct_yaml_timestamp(yaml.ScalarNode(tag, text))
    raise UnusualScalar(text)


def _expanded_size(root: yaml.Node, limit: int, first_line: int = 1) -> int:
    """Return how many nodes `root` has once aliases are expanded, stopping past `limit`.

    Raises:
        YamlError: a collection contains itself through an alias (`a: &a [*a]`).
    """
    sizes: dict[int, int] = {}
    # Collections whose children are still being counted: everything pushed after one
    # is inside it, so meeting it again means it contains itself. Such a document has
    # no finite size, and would keep this loop (and later readers) going forever.
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if not children_done and id(node) in open_nodes:
            mark = node.start_mark
            raise YamlError(
                f"an alias contains itself at line {mark.line + first_line}, column {mark.column + 1}"
                " (expected plain front matter)"
            )
        if isinstance(node, yaml.ScalarNode):
            sizes[id(node)] = 1
            continue
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = [part for pair in node.value for part in pair]
        if children_done:
            open_nodes.discard(id(node))
            total = 1 + sum(sizes[id(child)] for child in children)
            sizes[id(node)] = total
            if total > limit:
                return total
            continue
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def _describe(error: yaml.YAMLError, first_line: int) -> str:
    """Turn a PyYAML error into one line: what, and where (lines counted in the file)."""

    def at(mark: Any) -> str:
        return f" at line {mark.line + first_line}, column {mark.column + 1}" if mark is not None else ""

    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    text = f"{problem}{at(getattr(error, 'problem_mark', None))}"
    context = getattr(error, "context", None)
    if context:
        text = f"{context}{at(getattr(error, 'context_mark', None))}: {text}"
    return f"invalid YAML: {text} ({_EXPECTED})"


def load_yaml(text: str, *, max_nodes: int = MAX_EXPANDED_NODES, first_line: int = 1) -> Any:
    """Parse one YAML document into plain Python values.

    `first_line` is the line number of the text's first line in its file, for messages.

    Raises:
        YamlError: the text is not YAML, uses an unsafe tag, repeats a key,
            nests too deeply, holds a value that contains itself, or expands
            beyond `max_nodes` values.
    """
    loader = _Loader(text)
    loader.first_line = first_line
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        # Without an alias (`*name`) nothing can expand: skip the count for plain front matter.
        size = _expanded_size(node, max_nodes, first_line) if "*" in text else 0
        if size > max_nodes:
            raise YamlError(f"aliases expand to more than {max_nodes:,} values (expected plain front matter)")
        return loader.construct_document(node)
    except YamlError:
        raise
    except yaml.constructor.ConstructorError as error:
        raise YamlError(_describe(error, first_line)) from None
    except yaml.YAMLError as error:
        raise YamlError(_describe(error, first_line)) from None
    except RecursionError:
        raise YamlError(f"invalid YAML: nested too deeply ({_EXPECTED})") from None
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as error:
        # PyYAML's constructors raise these on an explicitly tagged value they cannot
        # build (`!!int abc`, `!!bool x`, `!!timestamp x`, `!!map [1]`): a bad document.
        detail = str(error) or type(error).__name__
        raise YamlError(f"invalid YAML: a tagged value cannot be built: {detail} ({_EXPECTED})") from None
    finally:
        loader.dispose()
