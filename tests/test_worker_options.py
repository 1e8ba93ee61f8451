"""The worker's options: what `feedsvc serve` puts in the environment is what `feedsvc.wsgi` reads back."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import feedsvc.runtime.server
from feedsvc.cli import main
from feedsvc.config import DEFAULT_PATH, config_path
from feedsvc.worker import (
    ACCESS_LOG_VAR,
    CONFIG_VAR,
    EXIT_WITH_PARENT_VAR,
    FEED_URL_VAR,
    FROM_VAR,
    LOG_FORMAT_VAR,
    VARIABLES,
    WorkerOptions,
)


class _FakeGranian:
    """Stands in for granian's supervisor: records the environment its worker would start with."""

    started: list[dict[str, str]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def serve(self) -> None:
        _FakeGranian.started.append(dict(os.environ))


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Run `feedsvc [ARGS]` with a fake HTTP server; return the options the worker would read."""
    for name in VARIABLES:  # whatever `serve` sets is undone after the test
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(feedsvc.runtime.server, "_Server", _FakeGranian)
    monkeypatch.setattr(feedsvc.runtime.server, "_check_free", lambda host, port: None)
    _FakeGranian.started = []

    def run(*args: str) -> WorkerOptions:
        result = CliRunner().invoke(main, list(args))
        assert result.exit_code == 0, result.output
        assert len(_FakeGranian.started) == 1
        return WorkerOptions.from_environ(_FakeGranian.started.pop())

    return run


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A valid config file over an empty content directory."""
    (tmp_path / "content").mkdir()
    path = tmp_path / "feedsvc.yaml"
    path.write_text(f"content:\n  dir: {tmp_path / 'content'}\n", encoding="utf-8")
    return path


# --- set by the command line, read by the worker ------------------------------------------------------------------


def test_the_config_file_reaches_the_worker_as_an_absolute_path(
    serve: Any, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve --config F` gives the worker F as an absolute path, so that it loads the same file."""
    monkeypatch.chdir(config.parent)
    worker = serve("serve", "--config", config.name)
    assert worker.config == config.resolve()
    assert worker.build_dir is None


def test_the_build_directory_reaches_the_worker_and_no_config_does(
    serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve --from DIR` gives the worker DIR as an absolute path, and no config file even if one was set."""
    (tmp_path / "build").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(CONFIG_VAR, str(tmp_path / "elsewhere.yaml"))
    worker = serve("serve", "--from", "build")
    assert worker.build_dir == (tmp_path / "build").resolve()
    assert worker.config is None


def test_a_bucket_reaches_the_worker_whole_with_the_config_given_for_its_storage_settings(
    serve: Any, config: Path
) -> None:
    """`serve --from s3://… --config F` gives the worker the URL as written and F, whose `storage.*` it reads."""
    worker = serve("serve", "--from", "s3://feeds/site", "--config", str(config))
    assert (worker.build_url, worker.build_dir) == ("s3://feeds/site", None)
    assert worker.config == config.resolve()
    assert serve("serve", "--from", "s3://feeds/site").config is None


def test_the_address_served_on_reaches_the_worker_as_its_feed_url(serve: Any, config: Path) -> None:
    """`serve --port P` tells the worker http://127.0.0.1:P/, the site.feed_url of a config that sets none."""
    assert serve("serve", "--config", str(config), "--port", "9005").feed_url == "http://127.0.0.1:9005/"
    assert serve("serve", "--config", str(config), "--host", "::", "--port", "9006").feed_url == "http://[::1]:9006/"


def test_a_worker_of_serve_ends_with_its_supervisor(serve: Any, config: Path) -> None:
    """A worker that `serve` starts is told to exit with its parent (and so to take SIGHUP and SIGTERM itself)."""
    assert serve("serve", "--config", str(config)).exit_with_parent is True


@pytest.mark.parametrize(("flag", "expected"), [((), True), (("--access-log",), True), (("--no-access-log",), False)])
def test_the_access_log_choice_reaches_the_worker(
    serve: Any, config: Path, flag: tuple[str, ...], expected: bool
) -> None:
    """`--no-access-log` turns the worker's request log off; without it, or with `--access-log`, it is on."""
    assert serve("serve", "--config", str(config), *flag).access_log is expected


@pytest.mark.parametrize(
    ("given", "expected"), [((), "text"), (("--log-format", "json"), "json"), (("--log-format", "JSON"), "json")]
)
def test_the_log_format_reaches_the_worker(serve: Any, config: Path, given: tuple[str, ...], expected: str) -> None:
    """`feedsvc --log-format F serve` makes the worker log in F (any case given); text by default."""
    assert serve(*given, "serve", "--config", str(config)).log_format == expected


def test_serve_replaces_what_the_environment_held_for_the_worker(
    serve: Any, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Variables already set when `serve` starts (a build directory, a feed URL) do not leak into its worker."""
    monkeypatch.setenv(FROM_VAR, "/somewhere/else")
    monkeypatch.setenv(FEED_URL_VAR, "https://stale.example/")
    monkeypatch.setenv(ACCESS_LOG_VAR, "0")
    worker = serve("serve", "--config", str(config), "--port", "9007")
    assert worker == WorkerOptions(
        config=config.resolve(), feed_url="http://127.0.0.1:9007/", exit_with_parent=True, access_log=True
    )


# --- read by the worker: defaults and values ----------------------------------------------------------------------


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    """Without any variable a worker loads config/feedsvc.yaml, reads content, logs requests, in text."""
    worker = WorkerOptions.from_environ({})
    assert worker == WorkerOptions()
    assert config_path(worker.config, {}) == DEFAULT_PATH
    assert worker.build_dir is None
    assert worker.feed_url is None
    assert worker.exit_with_parent is False
    assert worker.access_log is True
    assert worker.log_format == "text"


@pytest.mark.parametrize(
    ("name", "value", "field", "expected"),
    [
        (CONFIG_VAR, "/etc/feedsvc.yaml", "config", Path("/etc/feedsvc.yaml")),
        (CONFIG_VAR, "", "config", None),
        (FROM_VAR, "/srv/feeds", "build_dir", Path("/srv/feeds")),
        (FROM_VAR, "", "build_dir", None),
        (FEED_URL_VAR, "https://feeds.example.com/", "feed_url", "https://feeds.example.com/"),
        (FEED_URL_VAR, "", "feed_url", None),
        (EXIT_WITH_PARENT_VAR, "1", "exit_with_parent", True),
        (EXIT_WITH_PARENT_VAR, "0", "exit_with_parent", False),
        (EXIT_WITH_PARENT_VAR, "yes", "exit_with_parent", False),
        (ACCESS_LOG_VAR, "0", "access_log", False),
        (ACCESS_LOG_VAR, "1", "access_log", True),
        (ACCESS_LOG_VAR, "", "access_log", True),
        (ACCESS_LOG_VAR, "off", "access_log", True),
        (LOG_FORMAT_VAR, "json", "log_format", "json"),
        (LOG_FORMAT_VAR, "", "log_format", "text"),
    ],
)
def test_each_variable_as_the_worker_reads_it(name: str, value: str, field: str, expected: object) -> None:
    """Each variable sets its one option (an empty one counts as not set; only `0` turns the request log off)."""
    worker = WorkerOptions.from_environ({name: value})
    assert getattr(worker, field) == expected
    others = {f.name: getattr(WorkerOptions(), f.name) for f in dataclasses.fields(WorkerOptions) if f.name != field}
    assert {f: getattr(worker, f) for f in others} == others


def test_the_variable_names_are_the_documented_ones() -> None:
    """The names gunicorn users set (README) do not change."""
    assert (CONFIG_VAR, FROM_VAR, ACCESS_LOG_VAR, LOG_FORMAT_VAR) == (
        "FEEDSVC_CONFIG",
        "FEEDSVC_FROM",
        "FEEDSVC_ACCESS_LOG",
        "FEEDSVC_LOG_FORMAT",
    )
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for name in (CONFIG_VAR, FROM_VAR, ACCESS_LOG_VAR, LOG_FORMAT_VAR):
        assert name in readme


@given(
    sent=st.builds(
        WorkerOptions,
        config=st.none() | st.just(Path("/etc/feedsvc.yaml")),
        build_dir=st.none() | st.just(Path("/srv/feeds")),
        feed_url=st.none() | st.just("http://127.0.0.1:9000/"),
        exit_with_parent=st.booleans(),
        access_log=st.booleans(),
        log_format=st.sampled_from(["text", "json"]),
    )
)
def test_options_come_back_as_they_were_sent(sent: WorkerOptions) -> None:
    """Reading the variables that a set of options gives returns the same options."""
    environ = sent.to_environ()
    assert set(environ) <= set(VARIABLES)
    assert WorkerOptions.from_environ(environ) == sent
