"""Run the web app under granian, a production HTTP server; the only module that imports granian.

granian keeps a small supervising process and one worker process. The worker
builds the service (`feedsvc.wsgi:create`): its first refresh, its scheduler,
its snapshot; so there is one scheduler in one serving process, and the
supervisor starts a new worker if that one dies. The worker runs the
application in two Python threads: answers come from memory, so more would
only contend for the interpreter (measured in benchmarks/); the second lets
one request wait for an archive page being made while the other answers.

Connections are cheap and bounded: up to MAX_CONNECTIONS are held open at once
(more wait in the listen backlog), and one that has not sent a whole request
header within HEADER_READ_TIMEOUT_S seconds (idle, kept alive after an answer,
or trickling a header line by line) is closed. So idle and slow clients hold
no thread and cannot keep others waiting.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import resource
import signal
import socket

from granian import Granian
from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels

from feedsvc.worker import VARIABLES, WorkerOptions

log = logging.getLogger("feedsvc")

APP_FACTORY = "feedsvc.wsgi:create"
# Connections waiting to be accepted (the kernel caps it at net.core.somaxconn).
BACKLOG = 1024
# Connections held open at once, idle ones included; each takes a file descriptor and a few KB.
# granian's default is the backlog: 1,024 idle connections then made every other client wait.
MAX_CONNECTIONS = 10_000
# Descriptors kept for everything else the worker opens: content files, the cache, its pipes.
RESERVED_FILES = 256
# A connection must send a whole request header within this time, including the next one on a
# kept-alive connection; otherwise it is closed (granian's default is 30 s).
HEADER_READ_TIMEOUT_S = 5
# granian's own lines go through the root logger, so that they look like feedsvc's.
_LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {
        "_granian": {"handlers": [], "propagate": True},
        "granian.access": {"handlers": [], "propagate": True},
    },
}


class _Server(Granian):  # type: ignore[misc,valid-type]
    """granian's supervisor, except that SIGHUP goes to the worker, which reloads the config in place.

    granian would start a new worker instead: with an invalid config that worker
    could not start, and the whole server would stop.
    """

    def signal_handler_reload(self, *args: object, **kwargs: object) -> None:
        log.info("SIGHUP: reloading the config")
        for worker in list(self.wrks):
            pid = worker.inner.pid
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGHUP)


def _check_free(host: str, port: int) -> None:
    """Refuse an address already in use.

    granian's workers bind with SO_REUSEPORT, so a second feedsvc on the same port
    would otherwise share it silently with the first, each answering half the requests.

    Raises:
        OSError: the address is in use or cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR as servers set it: connections of a previous run in TIME_WAIT are no obstacle.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def _connection_limit() -> int:
    """Raise the soft limit on open files to the hard one, and return how many connections fit under it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_CONNECTIONS + RESERVED_FILES
    if soft != resource.RLIM_INFINITY and (soft < wanted) and (hard == resource.RLIM_INFINITY or hard > soft):
        target = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    limit = min(MAX_CONNECTIONS, soft - RESERVED_FILES)
    if limit < MAX_CONNECTIONS:
        log.warning(
            "open files: limit %d allows %d connections at once (expected at least %d: raise `ulimit -n`)",
            soft,
            max(limit, 1),
            wanted,
        )
    return max(limit, 1)


def run_server(worker: WorkerOptions, *, host: str, port: int, log_level: str = "info") -> None:
    """Serve the feeds of a config file (or of a build directory) until SIGTERM or Ctrl-C.

    The worker process is started with `worker`'s options, and ends with its supervisor.

    Raises:
        OSError: the address cannot be bound.
    """
    _check_free(host, port)
    # The worker process loads the config again, by this name (or follows the build directory).
    exported = dataclasses.replace(
        worker,
        config=worker.config.resolve() if worker.config is not None else None,
        build_dir=worker.build_dir.resolve() if worker.build_dir is not None else None,
        exit_with_parent=True,
    )
    for name in VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(exported.to_environ())
    connections = _connection_limit()  # before the worker starts: it inherits the limit
    server = _Server(
        APP_FACTORY,
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        factory=True,
        workers=1,
        blocking_threads=2,  # one request may wait for an archive page (feeds/archives.py) while the other answers
        http=HTTPModes.http1,
        backlog=BACKLOG,
        backpressure=connections,
        http1_settings=HTTP1Settings(header_read_timeout=HEADER_READ_TIMEOUT_S * 1000),
        respawn_failed_workers=True,
        workers_kill_timeout=30,
        log_level=LogLevels(log_level),
        log_dictconfig=_LOGGING,
    )
    log.info(
        "serving %s on http://%s:%d/ (up to %d connections; a request header must arrive within %d s)",
        worker.build_url or worker.build_dir or worker.config,
        host,
        port,
        connections,
        HEADER_READ_TIMEOUT_S,
    )
    server.serve()
