"""The real Hexo is the oracle: its feeds of tests/data/hexo-site and feedsvc's carry the same items.

Hexo, hexo-generator-feed and a Markdown renderer are the versions tests/hexo-oracle/package-lock.json
pins, installed (by .ci/run, or here when missing) into a cache folder outside the repository:
$FEEDSVC_TEST_HEXO_DIR, else $XDG_CACHE_HOME/feedsvc-test-hexo. Without node and npm the test skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import feedparser
import pytest

from feedsvc.config import load_settings
from feedsvc.refresh.refresher import Refresher
from feedsvc.store import Store
from tests.conftest import ROOT, Clock

ORACLE = ROOT / "tests" / "hexo-oracle"
SITE = ROOT / "tests" / "data" / "hexo-site"
DIR_VAR = "FEEDSVC_TEST_HEXO_DIR"
# Read when the module is imported, before any test points XDG_CACHE_HOME at a temporary folder.
MODULES = Path(
    os.environ.get(DIR_VAR) or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "feedsvc-test-hexo"
)
# The feeds both publish of the site: feedsvc's `all` in each format, and hexo-generator-feed's files.
PAIRS = (("feeds/all.atom", "atom.xml"), ("feeds/all.rss", "rss2.xml"))
PUBLISHED_POSTS = 8  # the fixture's posts less its one `published: false`
# Hexo takes the permalink's :year/:month/:day in the zone of the machine that runs it (feedsvc in
# site.timezone): run it, as a site's owner usually does, where that zone is the site's.
SITE_ZONE = "Asia/Shanghai"

pytestmark = pytest.mark.slow


def _installed() -> bool:
    lock = MODULES / "package-lock.json"
    return (
        (MODULES / "node_modules" / "hexo" / "package.json").exists()
        and lock.exists()
        and lock.read_bytes() == (ORACLE / "package-lock.json").read_bytes()
    )


@pytest.fixture(scope="session")
def hexo_modules() -> Path:
    """The node_modules folder holding the pinned Hexo; skip the test when it cannot be installed."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: the real Hexo cannot run")
    if not _installed():
        try:
            MODULES.mkdir(parents=True, exist_ok=True)
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(ORACLE / name, MODULES / name)
        except OSError as error:
            pytest.skip(f"cannot install the pinned Hexo into {MODULES}: {error.strerror or error}")
        command = ["npm", "ci", "--prefix", str(MODULES), "--no-audit", "--no-fund", "--ignore-scripts"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        except subprocess.TimeoutExpired:
            pytest.skip("npm ci of the pinned Hexo took over 300 s")
        if done.returncode != 0 or not _installed():
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            pytest.skip(f"npm ci of the pinned Hexo failed: {last}")
    return MODULES / "node_modules"


def _entries(body: bytes) -> list[dict[str, Any]]:
    """Parse a feed with feedparser into what both tools must agree on, item by item."""
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return [
        {
            "id": entry.get("id"),
            "link": entry.get("link"),
            "title": entry.get("title"),
            "published": entry.get("published_parsed"),
            # A set: Hexo lists a name twice when it is a category and a tag, feedsvc once.
            "categories": sorted({tag.term for tag in entry.get("tags", [])}),
        }
        for entry in parsed.entries
    ]


def test_feedsvc_publishes_the_items_hexo_publishes(hexo_modules: Path, tmp_path: Path) -> None:
    """Hexo's and feedsvc's feeds of one site give every item the same id, link, title, date and categories."""
    site = Path(shutil.copytree(SITE, tmp_path / "site"))
    env = {**os.environ, "NODE_PATH": str(hexo_modules), "TZ": SITE_ZONE}
    done = subprocess.run(
        ["node", str(ORACLE / "generate.js"), str(site)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    config = tmp_path / "feedsvc.yaml"
    config.write_text("content:\n  hexo: site\ncache:\n  enabled: false\nscan:\n  workers: 1\n", encoding="utf-8")
    store = Store()
    Refresher(load_settings(config), store, clock=Clock()).refresh()
    assert store.snapshot.problems == ()

    for ours, theirs in PAIRS:
        hexo = _entries((site / "public" / theirs).read_bytes())
        mine = _entries(store.snapshot.documents[ours].body)
        assert len(hexo) == PUBLISHED_POSTS
        for expected, got in zip(hexo, mine, strict=True):
            assert got == expected, f"{ours} against Hexo's {theirs}"
