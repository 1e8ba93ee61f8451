"""The index's entries as a layer of changes over the last index's: the same mapping as a copy, without the copy."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from feedsvc.config import Settings
from feedsvc.index import entries as layering
from feedsvc.index.entries import Changes, Layered
from tests.corpus import bump_mtime
from tests.scans import scan, write

KEYS = st.sampled_from([f"k{n}" for n in range(12)])
# One scan's changes: set a path to a value, or delete it (None).
SCAN = st.lists(st.tuples(KEYS, st.one_of(st.none(), st.integers(0, 9))), max_size=10)


def same(mapping: Mapping[str, int], model: dict[str, int]) -> None:
    assert len(mapping) == len(model)
    assert dict(mapping.items()) == model
    assert sorted(mapping) == sorted(model)
    for key in [f"k{n}" for n in range(12)]:
        assert (key in mapping) is (key in model)
        assert mapping.get(key) == model.get(key)


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.dictionaries(KEYS, st.integers(0, 9)), st.lists(SCAN, max_size=6), st.integers(1, 4))
def test_changes_over_changes_read_as_a_copy_changed_would(
    start: dict[str, int], scans: list[list[tuple[str, int | None]]], fold_at: int
) -> None:
    """Scan after scan, each over the last one's entries: the same as a dict copied and changed, and no scan's
    changes show in the entries before it."""
    layering_min = layering.MIN_FOLD
    layering.MIN_FOLD = fold_at  # type: ignore[misc]
    try:
        current: Mapping[str, int] = dict(start)
        model = dict(start)
        for changes in scans:
            before, kept = current, dict(model)
            editing = Changes(current)
            for key, value in changes:
                if value is None:
                    editing.pop(key, None)
                    model.pop(key, None)
                else:
                    editing[key] = value
                    model[key] = value
                same(editing, model)
            current = editing.settled()
            same(current, model)
            same(before, kept)  # the last index still reads as it did
    finally:
        layering.MIN_FOLD = layering_min  # type: ignore[misc]


def test_a_layer_is_folded_into_a_new_base_once_it_is_large() -> None:
    base = {f"k{n}": n for n in range(layering.MIN_FOLD * 2)}
    editing = Changes(base)
    for n in range(layering.MIN_FOLD - 1):
        editing[f"k{n}"] = -n
    small = editing.settled()
    assert isinstance(small, Layered)
    assert small.layer_size == layering.MIN_FOLD - 1
    editing = Changes(small)
    editing["new"] = 1
    editing["other"] = 2
    folded = editing.settled()
    assert type(folded) is dict
    assert len(folded) == len(base) + 2
    assert folded["k0"] == 0
    assert folded["k1"] == -1


def test_a_targeted_scan_shares_the_entries_it_did_not_touch(content_dir: Path, settings: Settings) -> None:
    """An event-driven scan of one file of many makes no new mapping of the others: it layers over the last one's."""
    for n in range(20):
        write(content_dir, f"a{n}.md")
    first, _ = scan(settings)
    assert type(first.index.entries) is dict
    write(content_dir, "a3.md", title="edited")
    bump_mtime(content_dir / "a3.md")
    second, parsed = scan(settings, first.index, {"a3.md", "a7.md"})
    (content_dir / "a5.md").unlink()
    third, _ = scan(settings, second.index, {"a5.md"})
    assert parsed == ["a3.md"]
    entries = third.index.entries
    assert isinstance(entries, Layered)
    assert entries._base is first.index.entries
    assert len(entries) == 19
    assert "a5.md" not in entries
    assert sorted(entries) == sorted(f"a{n}.md" for n in range(20) if n != 5)
    edited = entries["a3.md"].article
    assert edited is not None
    assert edited.title == "edited"
    assert entries["a9.md"] is first.index.entries["a9.md"]
    assert third.removed == ("a5.md",)
