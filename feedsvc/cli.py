"""The command line: `feedsvc serve | build | check | health | stats`. The only module that imports click."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from feedsvc import __version__
from feedsvc.config import Settings, config_path, is_local_host, listening_url, load_settings
from feedsvc.errors import BuildError, ConfigError
from feedsvc.worker import WorkerOptions

if TYPE_CHECKING:
    from collections.abc import Iterable

    from feedsvc.model import Snapshot
    from feedsvc.runtime.builder import Builder

# The commands import what they use when they run: `serve` supervises a worker process
# and needs none of the pipeline itself, so its supervisor stays small.

EXIT_PROBLEMS = 1
EXIT_CONFIG = 2

config_option = click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="YAML config file (default: $FEEDSVC_CONFIG, else config/feedsvc.yaml).",
)


def _build_location(context: click.Context, parameter: click.Parameter, value: str | None) -> Path | str | None:
    """Take where a build is: a directory's path, or `s3://BUCKET/PREFIX`; refuse any other URL.

    Any other URL would be written as a folder named after its scheme (`https:`).
    """
    if value is None:
        return None
    from feedsvc.builddir.storage import url_instead_of_location, url_scheme

    problem = url_instead_of_location(value)
    if problem is not None:
        raise click.BadParameter(problem)
    return value if url_scheme(value) is not None else Path(value)


def _settings(config: Path | None, *, feed_url: str | None = None) -> Settings:
    """Load the settings or exit 2 with the message naming the file and key."""
    try:
        return load_settings(config_path(config), feed_url=feed_url)
    except ConfigError as error:
        click.echo(f"feedsvc: config error: {error}", err=True)
        sys.exit(EXIT_CONFIG)


def config_warnings(settings: Settings) -> list[str]:
    """Return what in the settings works but is likely a mistake, one message each."""
    warnings = []
    if "site.link" not in settings.given and settings.site_link == settings.feed_url:
        warnings.append(
            f"{settings.source}: site.link: not set, so every article link points at this service "
            f"({settings.feed_url}), which answers 404 there (expected the URL of the site the articles live on)"
        )
    return warnings


def _warn_if_no_article(settings: Settings, snapshot: Snapshot) -> None:
    """Log a warning when the first refresh found no article file in a content directory it could read."""
    from feedsvc.index.scan import no_article_message

    if snapshot.degraded is None and snapshot.last_refresh is not None and snapshot.last_refresh.files_seen == 0:
        logging.getLogger("feedsvc.build").warning(no_article_message(settings.content_dir, settings.extensions))


def _configure_logging(level: str, log_format: str) -> None:
    from feedsvc.runtime import logs

    logs.configure(level, log_format)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feedsvc")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    show_default=True,
    help="Least important log lines shown.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"], case_sensitive=False),
    default="text",
    show_default=True,
    help="One line per event: readable text, or a JSON object (every line, the HTTP server's included).",
)
def main(log_level: str, log_format: str) -> None:
    """Publish a directory of Markdown articles as RSS, Atom and JSON feeds."""
    _configure_logging(log_level, log_format.lower())


@main.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
@click.option(
    "--from",
    "build_dir",
    callback=_build_location,
    default=None,
    help="Serve the build that `feedsvc build --out DIR|s3://BUCKET/PREFIX --watch` keeps up to date; read no content.",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="Log every request (Combined Log Format, or JSON with --log-format json).",
)
def serve(config: Path | None, host: str, port: int, build_dir: Path | str | None, access_log: bool) -> None:
    """Serve the feeds, rescanning the content directory on a schedule (or following a build directory)."""
    from feedsvc.runtime.server import run_server  # only `serve` needs the HTTP server

    # Without site.feed_url in the config, self links, the OPML and the index page name the
    # address served on (never a request's Host header, which any client may set).
    feed_url = listening_url(host, port)
    if build_dir is not None and config is not None:
        _settings(config)  # a replica's config file: an error stops here too, with exit 2
    if build_dir is None:
        settings = _settings(config, feed_url=feed_url)  # a config error stops here, with exit 2
        if "site.feed_url" not in settings.given and not is_local_host(host):
            logging.getLogger("feedsvc").warning(
                "%s: site.feed_url: not set, so self links and the OPML name %s, which readers on other "
                "machines cannot reach (expected the public URL of this service)",
                settings.source,
                settings.feed_url,
            )
    worker = WorkerOptions(
        # A replica reads a config file only when one is given on the command line: `storage.*` (a bucket),
        # and how and where it counts subscribers (`stats.*`, `server.trusted_proxies`, `cache.dir`).
        config=(config.resolve() if config is not None else None) if build_dir is not None else config_path(config),
        build_dir=build_dir if isinstance(build_dir, Path) else None,
        build_url=build_dir if isinstance(build_dir, str) else None,
        feed_url=feed_url,
        access_log=access_log,
        log_format=click.get_current_context().find_root().params["log_format"].lower(),  # `feedsvc --log-format`
    )
    level = logging.getLevelName(logging.getLogger().level).lower()
    try:
        run_server(worker, host=host, port=port, log_level=level)
    except OSError as error:
        click.echo(f"feedsvc: cannot listen on {host}:{port}: {error.strerror or error}", err=True)
        sys.exit(1)


@main.command()
@config_option
@click.option(
    "--out",
    required=True,
    callback=_build_location,
    help="Directory to write the feeds to, or s3://BUCKET/PREFIX (S3-compatible object storage).",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Keep the directory up to date, rescanning on the schedule, until SIGTERM or Ctrl-C.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Write into a non-empty directory that holds no earlier build (its files stay; same names are replaced).",
)
def build(config: Path | None, out: Path | str, watch: bool, force: bool) -> None:
    """Write every feed, the OPML, the index page and a manifest as static files, then exit (or --watch)."""
    settings = _settings(config)
    if watch:
        _keep_building(settings, out, force=force)
        return
    from feedsvc.runtime.logs import escape_controls

    builder = _start_builder(settings, out, watch=False, force=force)
    builder.stop()
    snapshot = builder.refresher.store.snapshot
    _warn_if_no_article(settings, snapshot)
    if snapshot.degraded:
        click.echo(f"feedsvc: {escape_controls(snapshot.degraded)}", err=True)
        sys.exit(EXIT_PROBLEMS)
    if builder.written is not snapshot:
        click.echo(f"feedsvc: cannot write the build to {out}", err=True)
        sys.exit(EXIT_PROBLEMS)
    click.echo(
        f"built {snapshot.feed_documents} feed documents of {snapshot.articles} articles into {out} "
        f"({builder.files_written} files written, {builder.files_removed} removed, {len(snapshot.problems)} problems)"
    )


def _start_builder(settings: Settings, out: Path | str, *, watch: bool, force: bool) -> Builder:
    """Start a builder, or exit 2 with the reason a build directory is refused (nothing written)."""
    from feedsvc.refresh.memory import freeze_after_refreshes
    from feedsvc.runtime.builder import start_builder

    freeze_after_refreshes()  # a process that builds: the index out of the garbage collector's sight
    try:
        return start_builder(settings, out, watch=watch, force=force)
    except BuildError as error:
        click.echo(f"feedsvc: build directory refused: {error}", err=True)
        sys.exit(EXIT_CONFIG)


def _keep_building(settings: Settings, out: Path | str, *, force: bool) -> None:
    """Build, then keep building on the schedule until SIGTERM, SIGINT or Ctrl-C; exit 0."""
    import signal
    import threading

    stopping = threading.Event()

    def stop(number: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    builder = _start_builder(settings, out, watch=True, force=force)
    _warn_if_no_article(settings, builder.refresher.store.snapshot)
    logging.getLogger("feedsvc.build").info("watching %s, building into %s", settings.content_dir, out)
    try:
        stopping.wait()
    finally:
        builder.stop()
    logging.getLogger("feedsvc.build").info("stopped")


@main.command()
@config_option
def check(config: Path | None) -> None:
    """Validate the config and every content file; list every problem (exit 1 if any)."""
    from feedsvc.index.cache import open_cache
    from feedsvc.index.progress import ProgressReport
    from feedsvc.index.scan import no_article_message
    from feedsvc.model import Article
    from feedsvc.refresh.refresher import Refresher
    from feedsvc.runtime.logs import escape_controls
    from feedsvc.store import Store

    settings = _settings(config)
    # What a Hexo site's _config.yml gave, one line each, so that a person sees what was read.
    for note in settings.hexo_notes:
        click.echo(f"hexo: {escape_controls(note)}")
    cache = open_cache(settings)
    refresher = Refresher(settings, Store(), cache=cache, progress=ProgressReport())
    refresh_log = logging.getLogger("feedsvc.refresh")
    level = refresh_log.level
    refresh_log.setLevel(logging.CRITICAL)  # this command prints problems and warnings itself
    try:
        report = refresher.refresh()
        refresher.flush()
    finally:
        refresh_log.setLevel(level)
        if cache is not None:
            cache.close()
    snapshot = report.snapshot
    if snapshot.degraded:
        click.echo(f"feedsvc: {escape_controls(snapshot.degraded)}", err=True)
        sys.exit(EXIT_PROBLEMS)
    for warning in config_warnings(settings):
        click.echo(f"warning: {escape_controls(warning)}")
    problems = [str(problem) for problem in snapshot.problems]
    if report.stats.files_seen == 0:
        # Exit 1 too: a directory with no article file is nearly always the wrong directory or the
        # wrong extensions, and a check that passed on it would publish empty feeds unnoticed.
        problems.insert(0, no_article_message(settings.content_dir, settings.extensions))
    # One line each, whatever a file name holds: a newline in one must not print a line of its own.
    for problem in problems:
        click.echo(f"problem: {escape_controls(problem)}")
    articles = [e.result for e in refresher.index.entries.values() if isinstance(e.result, Article)]
    for article in sorted(articles, key=lambda a: a.source):
        for warning in article.warnings:
            click.echo(f"warning: {escape_controls(f'{article.source}: {warning}')}")
    click.echo(
        f"{report.stats.files_seen} files: {snapshot.articles} published, {snapshot.held} held (draft or future), "
        f"{len(problems)} problems; {snapshot.feed_documents} feed documents ({feeds_by_kind(snapshot.documents)})"
    )
    sys.exit(EXIT_PROBLEMS if problems else 0)


def feeds_by_kind(documents: Iterable[str]) -> str:
    """Count the feeds among a snapshot's paths, by kind: `31 feeds: 11 categories, 1 tags, 7 authors, 12 stocks`."""
    kinds: dict[str, int] = {}
    for path in documents:
        if path.startswith("feeds/") and path.endswith(".rss"):
            kind = path.split("/")[1] if path.count("/") == 2 else "categories"
            kinds[kind] = kinds.get(kind, 0) + 1
    shown = ", ".join(f"{count} {kind}" for kind, count in kinds.items())
    return f"{sum(kinds.values())} feeds: {shown}" if kinds else "no feeds"


@main.command()
@click.option(
    "--url",
    default="http://127.0.0.1:8080/healthz",
    show_default=True,
    help="The /healthz address of the service to ask.",
)
@click.option("--timeout", default=5.0, show_default=True, type=click.FloatRange(0.1, 300), help="Seconds to wait.")
@click.option(
    "--strict", is_flag=True, help="Fail when the service is degraded too (not only when it does not answer)."
)
def health(url: str, timeout: float, strict: bool) -> None:
    """Ask a running service whether it is healthy: exit 0 if it is, 1 if not (for container health checks).

    Degraded (the content directory unreadable, the last good feeds serving) counts as
    healthy unless --strict: restarting the service would not bring the content back.
    """
    import json
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - an address the operator gives
            report = json.loads(response.read())
    except (OSError, ValueError) as error:
        click.echo(f"feedsvc: {url}: no answer: {error}", err=True)
        sys.exit(EXIT_PROBLEMS)
    status = report.get("status") if isinstance(report, dict) else None
    from feedsvc.runtime.logs import escape_controls

    reason = f" ({escape_controls(str(report.get('reason')))})" if status == "degraded" else ""
    click.echo(escape_controls(f"{url}: {status}") + reason)  # what a service answers is outside text
    if status == "ok" or (status == "degraded" and not strict):
        return
    sys.exit(EXIT_PROBLEMS)


@main.command()
@config_option
@click.option(
    "--file",
    "files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A counts file to read instead of the config's; repeat it to merge other replicas' files.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON, as /stats.json answers.")
def stats(config: Path | None, files: tuple[Path, ...], as_json: bool) -> None:
    """Show each feed's estimated subscribers, from the counts a service keeps in its state directory.

    Exit 1 when there are no counts yet (the service has not run, or counts nothing).
    """
    import json
    import sqlite3
    import time

    from feedsvc.runtime.counting import counts_file
    from feedsvc.runtime.logs import escape_controls
    from feedsvc.subscribers.ledger import merged

    settings = _settings(config)
    paths = list(files) or [counts_file(settings)]
    missing = [path for path in paths if not path.is_file()]
    if missing:
        click.echo(f"feedsvc: no subscriber counts yet: {missing[0]} does not exist", err=True)
        sys.exit(EXIT_PROBLEMS)
    try:
        ledger = merged(paths)
        counts = ledger.counts(int(time.time()), report_days=settings.stats_report_days)
        ledger.close()
    except sqlite3.Error as error:
        click.echo(f"feedsvc: cannot read the subscriber counts: {error}", err=True)
        sys.exit(EXIT_PROBLEMS)
    if as_json:
        click.echo(json.dumps(counts.report(), ensure_ascii=False, indent=2))
        return
    width = max([len("feed"), *(len(name) for name in counts.feeds)])
    click.echo(f"{'feed':<{width}}  subscribers  aggregators  direct")
    for name, count in counts.feeds.items():
        direct = f"~{count.direct}" if count.estimated else str(count.direct)
        by_aggregator = ", ".join(f"{aggregator} {n}" for aggregator, n in count.aggregators.items())
        line = f"{name:<{width}}  {count.total:>11}  {count.reported:>11}  {direct:>6}"
        click.echo(escape_controls(f"{line}  {by_aggregator}".rstrip()))
