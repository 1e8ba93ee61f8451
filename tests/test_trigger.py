"""Filesystem events trigger a refresh soon, without waiting for the schedule; a burst makes few refreshes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedsvc.runtime.service import Service, start_service
from feedsvc.runtime.trigger import LATEST_SETTLES, RefreshTrigger
from tests.conftest import make_settings
from tests.corpus import write_article

DEADLINE = 15.0  # seconds: far above the second a change takes, far below the schedule's 600


def wait_for(done: Callable[[], bool], what: str) -> None:
    """Poll `done` until it holds, failing after DEADLINE seconds."""
    end = time.monotonic() + DEADLINE
    while not done():
        if time.monotonic() > end:
            pytest.fail(f"not within {DEADLINE} s: {what}")
        time.sleep(0.01)


class Job:
    """A refresh stand-in that counts its runs and tells when one ran."""

    def __init__(self) -> None:
        self.runs = 0
        self.ran = threading.Event()
        self.overlapping = False
        self._running = False

    def __call__(self) -> None:
        self.overlapping = self.overlapping or self._running
        self._running = True
        self.runs += 1
        self._running = False
        self.ran.set()


def test_a_poke_runs_the_job_once_after_it_settles() -> None:
    """One event makes one run of the job, without any schedule."""
    job = Job()
    trigger = RefreshTrigger(job, settle=0.02)
    try:
        trigger.poke()
        assert job.ran.wait(DEADLINE)
    finally:
        trigger.stop()
    assert job.runs == 1


def test_no_poke_runs_nothing() -> None:
    """Without events the trigger never runs the job."""
    job = Job()
    trigger = RefreshTrigger(job, settle=0.001)
    trigger.stop()
    assert job.runs == 0


def test_a_burst_of_a_thousand_events_makes_a_bounded_number_of_runs() -> None:
    """A thousand events in a row make at most one run per four settle times of the burst, plus one."""
    job = Job()
    settle = 0.05
    trigger = RefreshTrigger(job, settle=settle)
    started = time.monotonic()
    try:
        for _ in range(1000):
            trigger.poke()
        lasted = time.monotonic() - started
        assert job.ran.wait(DEADLINE)
        time.sleep(settle * 2)  # a last run after the burst, if one is due, has begun by now
    finally:
        trigger.stop()
    assert 1 <= job.runs <= 2 + int(lasted / (settle * LATEST_SETTLES))


def test_events_that_never_settle_still_refresh_every_few_settle_times() -> None:
    """A steady stream of events is refreshed at least every four settle times, not held off by it."""
    job = Job()
    trigger = RefreshTrigger(job, settle=0.05)
    try:
        end = time.monotonic() + 1.0
        while time.monotonic() < end and job.runs < 2:
            trigger.poke()
            time.sleep(0.005)
    finally:
        trigger.stop()
    assert job.runs >= 2
    assert not job.overlapping


@pytest.fixture
def service(content_dir: Path) -> Iterator[Service]:
    """A running service that rescans only every ten minutes and watches the content directory."""
    write_article(content_dir, "first.md", {"title": "第一篇", "date": datetime(2024, 1, 1, tzinfo=UTC)})
    settings = make_settings(content_dir, scan={"interval_seconds": 600, "watch": True, "settle_ms": 50})
    running = start_service(settings)
    try:
        yield running
    finally:
        running.stop()


def all_feed(service: Service) -> bytes:
    return service.store.snapshot.documents["feeds/all.rss"].body


def test_a_new_article_is_published_without_waiting_for_the_schedule(service: Service, content_dir: Path) -> None:
    """An article written while serving is in the feed within seconds, though the next rescan is ten minutes off."""
    write_article(content_dir, "second.md", {"title": "第二篇", "date": datetime(2024, 1, 2, tzinfo=UTC)})
    wait_for(lambda: "第二篇" in all_feed(service).decode(), "the new article in all.rss")


def test_an_edit_and_a_delete_are_published_without_waiting_for_the_schedule(
    service: Service, content_dir: Path
) -> None:
    """Editing an article's title and then deleting it each show in the feed within seconds."""
    path = write_article(content_dir, "first.md", {"title": "改过的标题", "date": datetime(2024, 1, 1, tzinfo=UTC)})
    wait_for(lambda: "改过的标题" in all_feed(service).decode(), "the edited title in all.rss")
    path.unlink()
    wait_for(lambda: "改过的标题" not in all_feed(service).decode(), "the deleted article gone from all.rss")


def test_a_burst_of_a_thousand_new_files_is_published_in_few_refreshes(service: Service, content_dir: Path) -> None:
    """A thousand articles written at once are all published, by far fewer refreshes than files."""
    start = datetime(2024, 2, 1, tzinfo=UTC)
    for number in range(1000):
        when = start + timedelta(minutes=number)
        write_article(content_dir, f"burst/{number:04}.md", {"title": f"快讯 {number}", "date": when})
    wait_for(lambda: service.store.snapshot.articles == 1001, "all 1,001 articles published")
    trigger = service.pipeline.trigger
    assert trigger is not None
    assert 1 <= trigger.runs <= 100
