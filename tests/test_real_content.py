"""Content as publishers have it: scraped `NNN_<hash>.txt` archives, served on any port, built for static servers."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from feedsvc.cli import main
from feedsvc.config import Settings, listening_url, parse_settings
from feedsvc.errors import ConfigError
from feedsvc.index.scan import EMPTY_INDEX, Parse, is_article_name, scan_content
from feedsvc.parse.articles import parse_for_scan, split_front_matter
from feedsvc.refresh.refresher import Refresher
from feedsvc.runtime.service import start_service
from feedsvc.store import Store
from feedsvc.worker import WorkerOptions
from tests.conftest import Clock, make_settings
from tests.corpus import article_text

# The scraped form: a blank first line, then the front matter; HTML in a <div> as the body.
SCRAPED = [
    ("123_4f9a1c2e.txt", "北京全市上下迅速行动", "Wed, 04 May 2022 10:33:00 GMT"),
    ("124_9b0d77aa.txt", "沪指收涨0.86%", "Thu, 05 May 2022 07:15:00 GMT"),
    ("2022/125_0c1e5f3b.TXT", "券商板块午后拉升", "Fri, 06 May 2022 02:00:00 GMT"),
]


def _write_scraped(content_dir: Path) -> None:
    for name, title, date in SCRAPED:
        path = content_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fields = {"title": title, "categories": ["金融", "要闻"], "author": "证券时报网", "date": date}
        path.write_text("\n" + article_text(fields, "<div><p>证券时报网讯。</p></div>"), encoding="utf-8")


def _config(tmp_path: Path, content: Path, extra: str = "", *, link: bool = True) -> Path:
    path = tmp_path / "feedsvc.yaml"
    site = "site:\n  link: https://www.example.com/\n" if link else ""
    path.write_text(f"{site}content:\n  dir: {content}\n{extra}", encoding="utf-8")
    return path


def test_scraped_txt_files_publish_through_check(tmp_path: Path, content_dir: Path) -> None:
    """A directory of `NNN_<hash>.txt` files with a blank first line passes `check` with every article published."""
    _write_scraped(content_dir)
    result = CliRunner().invoke(main, ["check", "--config", str(_config(tmp_path, content_dir))])
    assert result.exit_code == 0, result.output
    assert f"{len(SCRAPED)} files: {len(SCRAPED)} published" in result.output
    assert "0 problems" in result.output


def test_scraped_txt_files_publish_through_a_refresh(content_dir: Path) -> None:
    """A refresh with the default settings publishes the scraped `.txt` articles in their feeds."""
    _write_scraped(content_dir)
    snapshot = Refresher(make_settings(content_dir), Store(), clock=Clock()).refresh().snapshot
    assert snapshot.problems == ()
    assert snapshot.articles == len(SCRAPED)
    body = snapshot.documents["feeds/all.atom"].body.decode()
    assert all(title in body for _, title, _ in SCRAPED)


def test_extensions_setting_leaves_txt_files_out(tmp_path: Path, content_dir: Path) -> None:
    """With `content.extensions: [.md]` the `.txt` files are not read, and check says what it looked for."""
    _write_scraped(content_dir)
    config = _config(tmp_path, content_dir, "  extensions: [.md]\n")
    result = CliRunner().invoke(main, ["check", "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert f"content directory {content_dir} holds no article file (looked for *.md)" in result.output
    snapshot = Refresher(make_settings(content_dir, content={"extensions": [".md"]}), Store(), clock=Clock()).refresh()
    assert snapshot.snapshot.articles == 0


def test_extensions_setting_reads_only_the_extensions_it_names(content_dir: Path) -> None:
    """`content.extensions: [.TXT, .html]` reads `.txt` and `.html` files in any case, and no `.md` file."""
    (content_dir / "a.md").write_text(article_text({"title": "a"}), encoding="utf-8")
    (content_dir / "b.HTML").write_text(article_text({"title": "b"}), encoding="utf-8")
    (content_dir / "c.txt").write_text(article_text({"title": "c"}), encoding="utf-8")
    (content_dir / "c.txt~").write_text(article_text({"title": "c"}), encoding="utf-8")
    settings = make_settings(content_dir, content={"extensions": [".TXT", ".html"]})
    assert settings.extensions == (".txt", ".html")
    result = scan_content(content_dir, EMPTY_INDEX, _parse(settings), max_bytes=1000, extensions=settings.extensions)
    assert sorted(result.index.entries) == ["b.HTML", "c.txt"]
    # A targeted scan (the paths filesystem events named) follows the same list.
    (content_dir / "d.md").write_text(article_text({"title": "d"}), encoding="utf-8")
    (content_dir / "e.txt").write_text(article_text({"title": "e"}), encoding="utf-8")
    targeted = scan_content(
        content_dir,
        result.index,
        _parse(settings),
        max_bytes=1000,
        changed={"d.md", "e.txt"},
        extensions=settings.extensions,
    )
    assert not targeted.full
    assert sorted(targeted.index.entries) == ["b.HTML", "c.txt", "e.txt"]


def _parse(settings: Settings) -> Parse:
    return partial(parse_for_scan, settings=settings)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("[md]", "'md' is not an extension"),
        ("[.md/x]", "'.md/x' is not an extension"),
        ("['*.md']", "'*.md' is not an extension"),
        ("[]", "is empty"),
        ("[1]", "1 is not an extension"),
    ],
)
def test_extensions_setting_is_validated(value: str, fragment: str) -> None:
    """An extension without its dot, with a separator or a wildcard, or an empty list is a config error."""
    import yaml

    with pytest.raises(ConfigError, match=r"content\.extensions") as error:
        parse_settings(yaml.safe_load(f"content:\n  extensions: {value}\n"), source="x.yaml")
    assert fragment in str(error.value)


@pytest.mark.parametrize("name", ["a.txt~", "#a.txt#", ".a.txt.swp", "a.txt.swp", ".hidden.txt"])
def test_leftovers_are_never_articles(name: str) -> None:
    """Editor leftovers and hidden files are not articles, whatever the extensions (even `.swp` or `.txt#`)."""
    assert not is_article_name(name)
    assert not is_article_name(name, (".txt", ".swp", ".txt~", ".txt#"))


@given(lines=st.lists(st.text(alphabet=" \t", max_size=3), max_size=4))
def test_blank_lines_before_the_front_matter_are_skipped(lines: list[str]) -> None:
    """Any number of blank lines (spaces and tabs on them too) before the opening `---` is the same article."""
    text = "".join(line + "\n" for line in lines) + "---\ntitle: 标题\n---\n\n<div>正文</div>\n"
    assert split_front_matter(text) == ({"title": "标题"}, "<div>正文</div>\n")


def test_an_empty_content_directory_fails_check_naming_the_extensions(tmp_path: Path, content_dir: Path) -> None:
    """`check` on a directory without an article file prints a problem naming it and the extensions, and exits 1."""
    (content_dir / "notes.html").write_text("<p>not an article</p>", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "--config", str(_config(tmp_path, content_dir))])
    assert result.exit_code == 1, result.output
    expected = f"problem: content directory {content_dir} holds no article file (looked for *.md, *.markdown, *.txt)"
    assert expected in result.output
    assert "1 problems" in result.output


def test_an_empty_content_directory_is_a_warning_at_the_first_refresh(
    tmp_path: Path, content_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`serve`'s and `build`'s first refresh log a WARNING naming the directory and the extensions looked for."""
    expected = f"content directory {content_dir} holds no article file (looked for *.md, *.markdown, *.txt)"
    caplog.set_level(logging.WARNING)
    service = start_service(make_settings(content_dir, cache={"enabled": False}), scheduled=False)
    service.stop()
    assert [r.levelno for r in caplog.records if r.getMessage() == expected] == [logging.WARNING]
    config = _config(tmp_path, content_dir, "cache:\n  enabled: false\n")
    result = CliRunner().invoke(main, ["build", "--config", str(config), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert f"WARNING feedsvc.build: {expected}" in result.output  # the command's own log handler


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", 9000, "http://127.0.0.1:9000/"),
        ("0.0.0.0", 8081, "http://127.0.0.1:8081/"),  # noqa: S104 - a value under test
        ("::", 9000, "http://[::1]:9000/"),
        ("::1", 9000, "http://[::1]:9000/"),
        ("[::1]", 9000, "http://[::1]:9000/"),
        ("localhost", 80, "http://localhost:80/"),
        ("feeds.example.com", 9000, "http://feeds.example.com:9000/"),
    ],
)
def test_listening_url_names_an_address_a_client_can_ask(host: str, port: int, expected: str) -> None:
    """The base URL of a listening address maps the wildcards to loopback and brackets IPv6 addresses."""
    assert listening_url(host, port) == expected


def test_the_served_address_is_site_feed_url_only_when_the_config_sets_none(content_dir: Path) -> None:
    """A derived base replaces the default site.feed_url (and so site.link), never a configured one."""
    derived = "http://127.0.0.1:9000/"
    unset = parse_settings({"content": {"dir": str(content_dir)}}, feed_url=derived)
    assert (unset.feed_url, unset.site_link) == (derived, derived)
    configured = parse_settings({"site": {"feed_url": "https://feeds.example.com/"}}, feed_url=derived)
    assert configured.feed_url == "https://feeds.example.com/"
    with pytest.raises(ConfigError, match="FEEDSVC_FEED_URL"):
        parse_settings({}, feed_url="not a url")


def test_serve_passes_the_address_it_listens_on_and_warns_for_a_public_one(
    tmp_path: Path, content_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve --host 0.0.0.0 --port 9000` without site.feed_url hands http://127.0.0.1:9000/ on, with a warning."""
    import feedsvc.runtime.server

    calls: list[WorkerOptions] = []
    monkeypatch.setattr(feedsvc.runtime.server, "run_server", lambda worker, **kwargs: calls.append(worker))
    config = _config(tmp_path, content_dir)
    wildcard = "0.0.0.0"  # noqa: S104 - an address under test, never bound here
    result = CliRunner().invoke(main, ["serve", "--config", str(config), "--host", wildcard, "--port", "9000"])
    assert result.exit_code == 0, result.output
    assert calls[0].feed_url == "http://127.0.0.1:9000/"
    assert "site.feed_url: not set, so self links and the OPML name http://127.0.0.1:9000/" in result.output
    result = CliRunner().invoke(main, ["serve", "--config", str(config), "--port", "9001"])
    assert calls[1].feed_url == "http://127.0.0.1:9001/"
    assert "site.feed_url" not in result.output  # a loopback address: nobody else asks it


def test_check_warns_when_site_link_is_not_set(tmp_path: Path, content_dir: Path) -> None:
    """Without site.link, `check` warns that article links point at the feed service (and still exits 0)."""
    _write_scraped(content_dir)
    result = CliRunner().invoke(main, ["check", "--config", str(_config(tmp_path, content_dir, link=False))])
    assert result.exit_code == 0, result.output
    assert "site.link: not set, so every article link points at this service (http://127.0.0.1:8080/)" in (
        result.output
    )
    result = CliRunner().invoke(main, ["check", "--config", str(_config(tmp_path, content_dir))])
    assert "site.link" not in result.output


@pytest.mark.slow
def test_serve_on_another_port_links_to_that_port(tmp_path: Path, content_dir: Path) -> None:
    """`feedsvc serve --port P` without site.feed_url gives self links and OPML on port P, after a reload too."""
    import json
    import signal

    from tests.test_server import BIN, _free_port, _get, _running, _wait_for

    _write_scraped(content_dir)
    port = _free_port()
    config = _config(tmp_path, content_dir, "scan:\n  interval_seconds: 1\n")
    base = f"http://127.0.0.1:{port}/"
    command = [str(BIN / "feedsvc"), "serve", "--config", str(config), "--port", str(port)]
    with _running(command, port) as process:
        # A request's Host header never changes the links.
        status, _, atom = _get(base + "feeds/all.atom", {"Host": "evil.example:1"})
        assert status == 200
        assert f'href="{base}feeds/all.atom" rel="self"'.encode() in atom
        assert b"8080" not in atom
        assert f'xmlUrl="{base}feeds/all.rss"'.encode() in _get(base + "feeds.opml")[2]
        assert json.loads(_get(base + "feeds/all.json")[2])["feed_url"] == base + "feeds/all.json"
        text = config.read_text(encoding="utf-8").replace("site:\n", "site:\n  title: 重新加载\n", 1)
        config.write_text(text, encoding="utf-8")
        process.send_signal(signal.SIGHUP)
        _wait_for(lambda: "重新加载" in _get(base + "feeds/all.atom")[2].decode(), "the reloaded config")
        assert f'href="{base}feeds/all.atom" rel="self"'.encode() in _get(base + "feeds/all.atom")[2]


@pytest.mark.slow
def test_python_http_server_as_the_readme_runs_it_sends_feedsvcs_media_types(tmp_path: Path, content_dir: Path) -> None:
    """The README's `http.server` command serves every file of a build with its manifest's type (archive pages: .gz)."""
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT
    from tests.test_server import _free_port, _get, _wait_for

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [
        line.strip() for line in readme.splitlines() if line.strip().startswith("python3 -c 'import http.server")
    ]
    assert len(commands) == 1
    _write_scraped(content_dir)
    out = tmp_path / "build"
    result = CliRunner().invoke(main, ["build", "--config", str(_config(tmp_path, content_dir)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    port = _free_port()
    code = commands[0].removeprefix("python3 -c '").removesuffix("'").replace("port=8000", f"port={port}")
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=out, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        base = f"http://127.0.0.1:{port}/"
        _wait_for(lambda: _get(base)[0] == 200, "http.server to answer")
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        listed = {**manifest["documents"], **manifest["archives"]}
        assert {path.rsplit(".", 1)[-1] for path in listed} >= {"rss", "atom", "json", "opml", "html", "xsl"}
        for path, entry in listed.items():
            if path in manifest["archives"]:  # stored only as gzip: there under its .gz name, as the README says
                assert _get(base + path)[0] == 404, path
                status, headers, body = _get(base + path + ".gz")
                assert (status, headers["Content-Type"]) == (200, "application/gzip"), path
                assert body == (out / (path + ".gz")).read_bytes()
                continue
            status, headers, body = _get(base + path)
            assert (status, headers["Content-Type"]) == (200, entry["type"]), path
            assert body == (out / path).read_bytes()
    finally:
        process.kill()
        process.wait(timeout=10)
