"""A serving process's refreshes keep the garbage collector off the index: none while they run, frozen after."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from feedsvc.refresh import memory
from feedsvc.refresh.refresher import Refresher
from feedsvc.refresh.scanner import Scanner
from feedsvc.store import Store
from tests.conftest import make_settings
from tests.corpus import write_corpus


class Cycle:
    """An object in a reference cycle with itself: only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def freezing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process freezes after refreshes, as a serving one does; the collector is as it was afterwards."""
    monkeypatch.setattr(memory, "_freezing", [True])
    yield
    gc.unfreeze()
    gc.enable()


def watch_scans(monkeypatch: pytest.MonkeyPatch) -> tuple[list[bool], list[weakref.ref[Cycle]]]:
    """Record whether the collector runs during each scan, and leave a cycle of garbage made by it."""
    enabled: list[bool] = []
    cycles: list[weakref.ref[Cycle]] = []
    scan = Scanner.scan

    def watched(self: Scanner, *args: Any, **kwargs: Any) -> Any:
        enabled.append(gc.isenabled())
        cycles.append(weakref.ref(Cycle()))
        return scan(self, *args, **kwargs)

    monkeypatch.setattr(Scanner, "scan", watched)
    return enabled, cycles


def test_a_serving_process_refreshes_without_collecting_then_freezes_what_it_holds(
    content_dir: Path, freezing: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The collector is off during a refresh; after it, the index is frozen and the cycles it left are collected."""
    write_corpus(content_dir, 40)
    enabled, cycles = watch_scans(monkeypatch)
    frozen = gc.get_freeze_count()

    refresher = Refresher(make_settings(content_dir), Store())
    refresher.refresh()

    assert enabled == [False]
    assert gc.isenabled()
    assert gc.get_freeze_count() - frozen >= 40 * 2  # each article and its entry, at least
    assert cycles[0]() is None  # the refresh's cyclic garbage was collected, not frozen


def test_other_processes_refresh_with_the_collector_as_it_is(
    content_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without `freeze_after_refreshes` (tests, one-off commands) a refresh leaves the collector alone."""
    monkeypatch.setattr(memory, "_freezing", [False])
    write_corpus(content_dir, 10)
    enabled, _ = watch_scans(monkeypatch)
    frozen = gc.get_freeze_count()

    Refresher(make_settings(content_dir), Store()).refresh()

    assert enabled == [True]
    assert gc.get_freeze_count() == frozen


def test_the_serving_process_asks_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """`freeze_after_refreshes` turns it on for the rest of the process."""
    monkeypatch.setattr(memory, "_freezing", [False])
    memory.freeze_after_refreshes()
    assert memory._freezing == [True]
