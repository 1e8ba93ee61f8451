"""WSGI entry point for other servers, such as gunicorn: `gunicorn 'feedsvc.wsgi:create()'`.

With FEEDSVC_FROM=DIR (or s3://BUCKET/PREFIX), every worker serves the build
that one `feedsvc build --out … --watch` keeps up to date: no worker reads content.
FEEDSVC_FEED_URL is site.feed_url for a config file that sets none. Every
variable a worker reads, with its default, is in feedsvc.worker.

Each process that calls `create` runs its own first refresh and its own
scheduler (one scheduler per process), so do not preload the app in a master
process that forks workers afterwards: the scheduler thread would not survive the fork.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import multiprocessing.util
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from flask import Flask

from feedsvc.builddir.storage import url_instead_of_location
from feedsvc.config import Settings, config_path, load_settings
from feedsvc.errors import BuildError, ConfigError
from feedsvc.http.accesslog import Answered, request_lines
from feedsvc.http.accesslog import log as access_log
from feedsvc.http.app import log_requests, metrics_of
from feedsvc.index.scan import StopFlag
from feedsvc.refresh.memory import freeze_after_refreshes
from feedsvc.runtime import logs
from feedsvc.runtime.service import FollowingService, Service, start_following, start_service
from feedsvc.worker import FROM_VAR, WorkerOptions

_PR_SET_PDEATHSIG = 1
log = logging.getLogger("feedsvc")


def _exit_with_parent() -> None:
    """Ask Linux to send SIGTERM to this process when its parent dies; elsewhere do nothing."""
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return


def _on_hangup(service: Service | FollowingService, config_file: Path, signum: int, frame: object) -> None:
    """Reload in a thread of its own: a first refresh with the new config may take a while."""
    work: Callable[[], object] = (
        service.follower.check_safely
        if isinstance(service, FollowingService)
        else functools.partial(service.reload, config_file)
    )
    # The thread, and those it starts (the new config's scheduler and watcher), take no signal.
    with _signals_blocked():
        threading.Thread(target=work, name="feedsvc-reload", daemon=True).start()


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Block SIGTERM, SIGINT and SIGHUP in the threads started meanwhile.

    One of those threads taking a signal would leave granian's main thread waiting
    on a lock, unaware, and the worker would be killed 30 s later.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _log_requests(app: Flask) -> logs.LineWriter[Answered]:
    """Log every request the app answers, the lines written by a thread of their own until the process exits."""
    writer = logs.LineWriter(access_log, request_lines)
    with _signals_blocked():
        writer.start()
    # After the service stops (exit priorities run high to low), the writer writes what is queued and stops:
    # granian's worker runs these finalizers at exit though it skips atexit handlers; gunicorn's run both.
    multiprocessing.util.Finalize(None, writer.stop, exitpriority=0)
    metrics_of(app).request_log_dropped = lambda: writer.dropped
    log_requests(app, writer.add)
    return writer


def _replica_settings(config: Path | None) -> Settings | None:
    """Return the settings of the config file given with `serve --from`, if one was: a replica reads its
    `storage.*` (a bucket), `stats.*`, `server.trusted_proxies` and `cache.dir` (where it counts subscribers).

    Raises:
        ConfigError: that config file is invalid.
    """
    return None if config is None else load_settings(config)


class _StopOnSignal:
    """Handle SIGTERM and SIGINT while the service starts: end its first refresh at the next file, then exit 0.

    granian's worker is a fork of its supervisor, and until it serves it has the
    supervisor's handlers, which only take note for a supervisor that is not there: a
    first refresh of 20,000 files then ran to its end, and the worker served until killed.
    """

    def __init__(self, stopping: StopFlag) -> None:
        self.stopping = stopping
        self.started = False

    def __call__(self, signum: int, frame: object) -> None:
        self.stopping.set()
        if self.started:  # serving any moment now, granian's own handlers not yet in place
            raise SystemExit(0)


def create(config: str | None = None, build_dir: str | None = None) -> Flask:
    """Start a service and return its app.

    With a build directory (argument, else $FEEDSVC_FROM) it serves what `feedsvc build`
    wrote there and reads no content; otherwise it loads the config (argument, else
    $FEEDSVC_CONFIG, else config/feedsvc.yaml) and refreshes on its own schedule.

    Raises:
        ConfigError: the configuration is invalid; the message names the file and the key.
    """
    worker = WorkerOptions.from_environ(os.environ)
    under_feedsvc_serve = worker.exit_with_parent
    if under_feedsvc_serve:
        _exit_with_parent()
    if not logging.getLogger().handlers:
        logs.configure(logging.INFO, worker.log_format)
    serve_dir: Path | str | None = build_dir or worker.build_url or worker.build_dir
    if isinstance(serve_dir, str) and (problem := url_instead_of_location(serve_dir)) is not None:
        raise ConfigError(f"{FROM_VAR}: {problem}")
    # The worker's options have read $FEEDSVC_CONFIG already: the environment is not asked again.
    config_file = config_path(config or worker.config, environ={})
    stopping = StopFlag()
    on_stop = _StopOnSignal(stopping)
    freeze_after_refreshes()  # a serving process: the index out of the garbage collector's sight
    if under_feedsvc_serve and threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, on_stop)
    # The site.feed_url of a config that sets none, at load and at every reload (`feedsvc serve` sets it).
    feed_url = worker.feed_url
    try:
        service: Service | FollowingService = (
            start_following(serve_dir, settings=_replica_settings(worker.config))
            if serve_dir
            else start_service(
                load_settings(config_file, feed_url=feed_url), stop=stopping, feed_url=feed_url, restore=True
            )
        )
    except BuildError as error:  # a bucket that cannot be used at all (no S3 client library)
        raise ConfigError(f"{FROM_VAR}: {error}") from None
    if stopping.is_set():
        service.stop()
        log.info("stopped before serving: the first refresh ended early, nothing was published")
        raise SystemExit(0)
    # Stopped when the process exits: a multiprocessing worker (granian's) skips atexit
    # handlers but runs these finalizers; a plain process runs them at exit as well.
    multiprocessing.util.Finalize(None, service.stop, exitpriority=10)
    if under_feedsvc_serve and threading.current_thread() is threading.main_thread():
        # `feedsvc serve` passes SIGHUP on to this process: reload here, serving on meanwhile.
        # (gunicorn's master handles SIGHUP itself, by restarting its workers.)
        signal.signal(signal.SIGHUP, functools.partial(_on_hangup, service, config_file))
    if worker.access_log:
        _log_requests(service.app)
    if under_feedsvc_serve and threading.current_thread() is threading.main_thread():
        _stop_at_the_signal(service)
    on_stop.started = True
    return service.app


def _stop_at_the_signal(service: Service | FollowingService) -> None:
    """Stop the service, its writes made, as soon as SIGTERM or SIGINT arrives: not only at the worker's exit.

    At a stop granian lets every answer under way finish first. A client that asked for a
    feed and never reads the answer holds that until granian kills the worker (30 s), and a
    killed worker runs no exit handler: the parse cache's pending rows and the subscriber
    counts since their last flush would be lost. granian's signal handlers are Python's, so
    the interpreter writes each signal's number to the wakeup file descriptor: a thread of
    our own reads it and stops the service at once, while the answers under way finish.
    Stopped again at exit, the service has nothing left to do.
    """
    read, write = os.pipe()
    os.set_blocking(write, False)
    signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    stopping = {signal.SIGTERM.value, signal.SIGINT.value}

    def watch() -> None:
        while data := os.read(read, 64):
            if stopping.intersection(data):
                log.info("stopping: the service's writes are made now, while the answers under way finish")
                service.stop()
                return

    with _signals_blocked():
        threading.Thread(target=watch, name="feedsvc-stop", daemon=True).start()
