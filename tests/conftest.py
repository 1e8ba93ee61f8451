"""Shared fixtures: settings over a temporary content directory, a store, a refresher and a Flask client."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from lxml import etree

from feedsvc.config import Settings, parse_settings
from feedsvc.http.app import create_app
from feedsvc.model import Format, feed_path
from feedsvc.refresh.refresher import Refresher
from feedsvc.store import Store

if TYPE_CHECKING:
    from tests.objectstore import SeaweedFS

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
JSON_FEED_SCHEMA: dict[str, Any] = json.loads((DATA / "jsonfeed-1.1.schema.json").read_text(encoding="utf-8"))
# Built once: jsonschema.validate() checks the schema itself again on every call, which costs more than the feed.
JSON_FEED = Draft202012Validator(JSON_FEED_SCHEMA)


def xml_compatible(text: str) -> bool:
    """Tell whether lxml accepts the text as element content."""
    try:
        etree.Element("x").text = text
    except ValueError:
        return False
    return True


def feed_paths(*slugs: str) -> set[str]:
    """Return the paths of every format of the feeds with these slugs."""
    return {feed_path(slug, fmt) for slug in slugs for fmt in Format}


def make_settings(content_dir: Path, **sections: dict[str, Any]) -> Settings:
    """Build settings for a content directory; keyword arguments are config sections to merge."""
    data: dict[str, Any] = {
        "site": {
            "title": "测试站",
            "link": "https://www.example.com/",
            "timezone": "Asia/Shanghai",
            "author": "编辑部",
        },
        "content": {"dir": str(content_dir)},
        # Parse in this process. With the default (0: a worker process per core) every first refresh starts
        # and stops worker processes, most of a second for a few files; the tests of those ask for them.
        "scan": {"workers": 1},
    }
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return parse_settings(data, source="test.yaml")


@pytest.fixture(autouse=True)
def _private_cache_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every persistent cache a test (or a server it starts) opens out of the user's home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache-home")))


@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    """An empty content directory."""
    path = tmp_path / "content"
    path.mkdir()
    return path


@pytest.fixture
def settings(content_dir: Path) -> Settings:
    """Settings over the empty content directory, with a fixed site."""
    return make_settings(content_dir)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """A hand-moved clock starting at NOW."""
    return Clock()


@pytest.fixture
def store() -> Store:
    """An empty store."""
    return Store()


@pytest.fixture
def refresher(settings: Settings, store: Store, clock: Clock) -> Refresher:
    """A refresher over the content directory, with the hand-moved clock."""
    return Refresher(settings, store, clock=clock)


@pytest.fixture
def app(store: Store) -> Flask:
    """The web app over the store."""
    return create_app(store)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A Flask test client of the app."""
    return app.test_client()


@pytest.fixture
def settings_factory(content_dir: Path) -> Callable[..., Settings]:
    """Make settings over the content directory with some sections overridden."""
    return lambda **sections: make_settings(content_dir, **sections)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A real S3-compatible store (SeaweedFS) for the session; the tests that ask for it skip without `weed`."""
    from tests.objectstore import running_seaweedfs

    with running_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as store:
        yield store
