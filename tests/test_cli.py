"""The command line: check's exit codes and messages, build's static files, config errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from feedsvc.cli import main
from tests.conftest import ROOT
from tests.corpus import write_article, write_corpus

EXAMPLES_CONFIG = ROOT / "config" / "feedsvc.yaml"


def _config(tmp_path: Path, content: Path, extra: str = "") -> Path:
    path = tmp_path / "feedsvc.yaml"
    path.write_text(f"site:\n  link: https://www.example.com/\ncontent:\n  dir: {content}\n{extra}", encoding="utf-8")
    return path


@pytest.fixture
def runner() -> CliRunner:
    """A click runner."""
    return CliRunner()


def test_check_passes_on_the_examples(runner: CliRunner) -> None:
    """`check` on the bundled examples finds no problem and exits 0."""
    result = runner.invoke(main, ["check", "--config", str(EXAMPLES_CONFIG)])
    assert result.exit_code == 0, result.output
    assert "0 problems" in result.output
    # The feeds of each kind: categories, tags, authors and the stocks the articles name.
    assert re.search(r"\(\d+ feeds: \d+ categories, 1 tags, \d+ authors, \d+ stocks\)", result.output), result.output


def test_check_lists_every_problem_and_exits_1(runner: CliRunner, tmp_path: Path, content_dir: Path) -> None:
    """`check` prints each problem as `path: field: reason` and exits 1 when there is one."""
    write_corpus(content_dir, 3)
    (content_dir / "bad.md").write_text("---\ntitle: [unclosed\n---\nbody\n", encoding="utf-8")
    write_article(content_dir, "nodate.md", {"title": "x", "date": "2022-02-30"})
    result = runner.invoke(main, ["check", "--config", str(_config(tmp_path, content_dir))])
    assert result.exit_code == 1
    assert "problem: bad.md: front matter: invalid YAML" in result.output
    assert "problem: nodate.md: date: '2022-02-30' is not a date" in result.output
    assert "3 published" in result.output


def test_check_prints_warnings_without_failing(runner: CliRunner, tmp_path: Path, content_dir: Path) -> None:
    """A repaired article (unsafe thumbnail) is a warning, not a problem: exit 0."""
    write_article(content_dir, "a.md", {"title": "x", "date": "2024-01-01", "thumbnail": "javascript:alert(1)"})
    result = runner.invoke(main, ["check", "--config", str(_config(tmp_path, content_dir))])
    assert result.exit_code == 0, result.output
    assert "warning: a.md: thumbnail:" in result.output


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ("feeds:\n  limt: 3\n", "feeds.limt: unknown key"),
        ("feeds:\n  limit: many\n", "feeds.limit: 'many'"),
        ("nonsense:\n  a: 1\n", "nonsense: unknown section"),
        ("site:\n  timezone: Mars/Base\n", "site.timezone"),
    ],
)
def test_config_errors_exit_2_naming_file_and_key(
    runner: CliRunner, tmp_path: Path, content_dir: Path, extra: str, fragment: str
) -> None:
    """An unknown key or a wrong type stops every command with exit 2 and names the file and key."""
    config = tmp_path / "bad.yaml"
    config.write_text(f"content:\n  dir: {content_dir}\n{extra}", encoding="utf-8")
    for command in (["check"], ["build", "--out", str(tmp_path / "out")], ["serve", "--port", "1"]):
        result = runner.invoke(main, [*command, "--config", str(config)])
        assert result.exit_code == 2, (command, result.output)
        assert str(config) in result.output
        assert fragment in result.output


def test_missing_config_file_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    """A config path that does not exist is a config error."""
    result = runner.invoke(main, ["check", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "nope.yaml" in result.output


def test_config_comes_from_the_environment(
    runner: CliRunner, tmp_path: Path, content_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --config, FEEDSVC_CONFIG names the file."""
    write_corpus(content_dir, 2)
    monkeypatch.setenv("FEEDSVC_CONFIG", str(_config(tmp_path, content_dir)))
    result = runner.invoke(main, ["check"])
    assert result.exit_code == 0, result.output
    assert "2 published" in result.output


def test_build_writes_feeds_laid_out_like_the_urls(runner: CliRunner, tmp_path: Path, content_dir: Path) -> None:
    """`build --out` writes feeds/{slug}.{rss,atom,json}, feeds.opml and index.html."""
    write_corpus(content_dir, 5)
    out = tmp_path / "out"
    result = runner.invoke(main, ["build", "--config", str(_config(tmp_path, content_dir)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("all.rss", "all.atom", "all.json"):
        assert (out / "feeds" / name).stat().st_size > 0
    assert (out / "feeds.opml").read_bytes().startswith(b"<?xml")
    assert b"<!DOCTYPE html>" in (out / "index.html").read_bytes()


def test_build_is_reproducible_and_skips_unchanged_files(runner: CliRunner, tmp_path: Path, content_dir: Path) -> None:
    """A second build of unchanged content writes no file and leaves every byte as it was (but the status's)."""
    write_corpus(content_dir, 5)
    config = _config(tmp_path, content_dir)
    out = tmp_path / "out"
    runner.invoke(main, ["build", "--config", str(config), "--out", str(out)])
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != "status.json"}
    result = runner.invoke(main, ["build", "--config", str(config), "--out", str(out)])
    assert "(0 files written, 0 removed" in result.output
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != "status.json"} == before
    assert json.loads((out / "status.json").read_text(encoding="utf-8"))["last_scan"]["files_seen"] == 5


def test_build_removes_feeds_no_longer_built(runner: CliRunner, tmp_path: Path, content_dir: Path) -> None:
    """When a category disappears from the content, its feed files go from the build directory."""
    write_article(content_dir, "a.md", {"title": "a", "date": "2024-01-01", "categories": ["Gone"]})
    config = _config(tmp_path, content_dir)
    out = tmp_path / "out"
    runner.invoke(main, ["build", "--config", str(config), "--out", str(out)])
    assert (out / "feeds" / "gone.rss").exists()
    write_article(content_dir, "a.md", {"title": "a", "date": "2024-01-01", "categories": ["Kept"]})
    result = runner.invoke(main, ["build", "--config", str(config), "--out", str(out)])
    assert "9 removed" in result.output  # its three feeds, their views and their three archive pages
    assert not (out / "feeds" / "gone.rss").exists()
    assert not (out / "feeds" / "gone.rss.html").exists()
    assert not (out / "feeds" / "gone").exists()
    assert (out / "feeds" / "kept.rss").exists()


def test_build_fails_when_the_content_directory_is_missing(runner: CliRunner, tmp_path: Path) -> None:
    """`build` exits 1 and says why when it cannot read the content directory."""
    config = _config(tmp_path, tmp_path / "missing")
    result = runner.invoke(main, ["build", "--config", str(config), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "content directory" in result.output


def test_version(runner: CliRunner) -> None:
    """`--version` names the program."""
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("feedsvc")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("gs://bucket", "gs://bucket is a URL feedsvc cannot publish to (expected a local directory, or s3://"),
        ("https://cdn.example.com/feeds/", "is a URL feedsvc cannot publish to"),
        ("file:///srv/out", "is a URL feedsvc cannot publish to"),
        ("s3://Not_A_Bucket/site", "s3://Not_A_Bucket/site: not a bucket name"),
        ("s3://feeds/../site", "the prefix holds an empty, `.` or `..` part"),
    ],
)
def test_build_refuses_a_url_for_its_output_and_writes_nothing(
    runner: CliRunner, tmp_path: Path, content_dir: Path, monkeypatch: pytest.MonkeyPatch, *, url: str, message: str
) -> None:
    """`build --out` with a URL that is no s3://BUCKET/PREFIX exits 2 saying why, and leaves no folder behind."""
    write_corpus(content_dir, 2)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["build", "--config", str(_config(tmp_path, content_dir)), "--out", url])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(["content", "feedsvc.yaml"])


def test_serve_refuses_a_url_to_serve_from(runner: CliRunner) -> None:
    """`serve --from gs://bucket/site` exits 2 naming the URL before any server starts."""
    result = runner.invoke(main, ["serve", "--from", "gs://bucket/site"])
    assert result.exit_code == 2
    assert "gs://bucket/site is a URL feedsvc cannot publish to" in " ".join(result.output.split())


def test_a_worker_refuses_a_url_to_serve_from(monkeypatch: pytest.MonkeyPatch) -> None:
    """A gunicorn worker with FEEDSVC_FROM=gs://… fails with a config error naming the variable, serving nothing."""
    from feedsvc.errors import ConfigError
    from feedsvc.wsgi import create

    monkeypatch.setenv("FEEDSVC_FROM", "gs://bucket/site")
    with pytest.raises(ConfigError, match=r"FEEDSVC_FROM: gs://bucket/site is a URL feedsvc cannot publish to"):
        create()
