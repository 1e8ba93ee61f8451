"""A restart serves what the last run served, from the cache, until its first refresh ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from feedsvc.config import Settings
from feedsvc.model import Snapshot
from feedsvc.refresh.refresher import Refresher
from feedsvc.runtime.service import Service, start_service
from tests.conftest import make_settings
from tests.corpus import write_article, write_corpus

DEADLINE_SECONDS = 30


def cached(content_dir: Path, cache_dir: Path, **sections: dict[str, Any]) -> Settings:
    """Settings over the content directory with the cache in `cache_dir`."""
    sections.setdefault("cache", {}).setdefault("dir", str(cache_dir))
    return make_settings(content_dir, **sections)


class HeldRefreshes:
    """Holds every refresh at its start until released, so that what serves meanwhile can be looked at."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        original = Refresher.refresh

        def held(refresher: Refresher) -> Any:
            self.started.set()
            self.release.wait(DEADLINE_SECONDS)
            return original(refresher)

        monkeypatch.setattr(Refresher, "refresh", held)


@pytest.fixture
def services() -> Iterator[list[Service]]:
    """The services a test starts, stopped at its end."""
    started: list[Service] = []
    yield started
    for service in started:
        service.stop()


def first_run(settings: Settings, services: list[Service]) -> Snapshot:
    """Run a service over the settings to its first snapshot and stop it, as a run before a restart."""
    service = start_service(settings, scheduled=False)
    snapshot = service.store.snapshot
    service.stop()
    return snapshot


def wait_for(condition: Any) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.01)


def test_a_restart_serves_the_last_runs_documents_before_its_first_refresh_ends(
    content_dir: Path, tmp_path: Path, services: list[Service], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the first refresh ends, a restart answers every document, redirect and health as the last run did."""
    write_corpus(content_dir, 30)
    settings = cached(content_dir, tmp_path / "cache")
    before = first_run(settings, services)
    held = HeldRefreshes(monkeypatch)

    service = start_service(settings, restore=True)
    services.append(service)
    held.started.wait(DEADLINE_SECONDS)

    restored = service.store.snapshot
    assert restored.restored
    assert {path: doc.etag for path, doc in restored.documents.items()} == {
        path: doc.etag for path, doc in before.documents.items()
    }
    assert all(restored.documents[path].body == doc.body for path, doc in before.documents.items())
    assert (restored.articles, restored.held, restored.feed_documents) == (
        before.articles,
        before.held,
        before.feed_documents,
    )
    assert restored.redirects == before.redirects
    client = service.app.test_client()
    health = client.get("/healthz").get_json()
    assert (health["status"], health["restored"], health["articles"]) == ("ok", True, before.articles)
    feed = client.get("/feeds/all.rss")
    assert (feed.status_code, feed.headers["ETag"]) == (200, before.documents["feeds/all.rss"].etag)
    assert client.get("/feeds/all.rss", headers={"If-None-Match": feed.headers["ETag"]}).status_code == 304
    name, slug = next(iter(before.redirects.items()))
    assert client.get(f"/feeds/{quote(name)}.rss").headers["Location"].endswith(f"/feeds/{slug}.rss")
    page = client.get("/feeds/all/archive/1.rss")
    assert (page.status_code, page.headers["Retry-After"]) == (503, "5")

    held.release.set()
    wait_for(lambda: not service.store.snapshot.restored)
    after = service.store.snapshot
    assert {p: d.etag for p, d in after.documents.items()} == {p: d.etag for p, d in before.documents.items()}
    # Nothing changed: the first refresh serves the restored documents themselves, not a second copy of each.
    assert all(after.documents[path] is document for path, document in restored.documents.items())
    assert client.get("/healthz").get_json()["restored"] is False
    wait_for(lambda: service.pipeline.schedule is not None)


def test_what_changed_while_stopped_is_served_once_the_first_refresh_ends(
    content_dir: Path, tmp_path: Path, services: list[Service], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An article written while the service was down shows once the restart's first refresh ends, not before."""
    write_corpus(content_dir, 10)
    settings = cached(content_dir, tmp_path / "cache")
    before = first_run(settings, services)
    write_article(
        content_dir, "new.md", {"title": "停机时写的文章", "date": "2025-06-01 08:00:00", "categories": ["金融"]}
    )
    held = HeldRefreshes(monkeypatch)

    service = start_service(settings, restore=True)
    services.append(service)
    held.started.wait(DEADLINE_SECONDS)
    assert service.store.snapshot.documents["feeds/all.json"].body == before.documents["feeds/all.json"].body

    held.release.set()
    wait_for(lambda: not service.store.snapshot.restored)
    assert "停机时写的文章".encode() in service.store.snapshot.documents["feeds/all.json"].body
    assert service.store.snapshot.articles == before.articles + 1


def test_no_restore_without_a_last_run_of_the_same_settings(
    content_dir: Path, tmp_path: Path, services: list[Service]
) -> None:
    """With an empty cache, or one the last run filled under other settings, the first refresh serves first."""
    write_corpus(content_dir, 10)
    fresh = start_service(cached(content_dir, tmp_path / "cache"), scheduled=False, restore=True)
    services.append(fresh)
    assert not fresh.store.snapshot.restored
    assert fresh.store.snapshot.last_refresh is not None
    fresh.stop()

    other = start_service(cached(content_dir, tmp_path / "cache", feeds={"limit": 5}), scheduled=False, restore=True)
    services.append(other)
    assert not other.store.snapshot.restored
    assert other.store.snapshot.last_refresh is not None


def test_a_restart_stopped_during_its_first_refresh_starts_no_schedule(
    content_dir: Path, tmp_path: Path, services: list[Service], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopping a restart whose first refresh runs ends it without publishing and without starting the schedule."""
    write_corpus(content_dir, 10)
    settings = cached(content_dir, tmp_path / "cache")
    first_run(settings, services)
    held = HeldRefreshes(monkeypatch)
    service = start_service(settings, restore=True)
    pipeline = service.pipeline
    held.started.wait(DEADLINE_SECONDS)

    stopping = threading.Thread(target=service.stop)
    stopping.start()
    held.release.set()
    stopping.join(DEADLINE_SECONDS)

    assert not stopping.is_alive()
    assert pipeline.schedule is None
    assert service.store.snapshot.restored  # the stopped refresh published nothing
