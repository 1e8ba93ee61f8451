"""Content as publishers have it: scraped `NNN_<hash>.txt` archives, served on any port, built for static servers."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from feedsvc.articles import parse_for_scan, split_front_matter
from feedsvc.cli import main
from feedsvc.config import Settings, parse_settings
from feedsvc.errors import ConfigError
from feedsvc.refresh import Refresher
from feedsvc.scan import EMPTY_INDEX, Parse, is_article_name, scan_content
from feedsvc.service import start_service
from feedsvc.store import Store
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
