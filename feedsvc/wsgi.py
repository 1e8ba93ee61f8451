"""WSGI entry point for other servers, such as gunicorn: `gunicorn 'feedsvc.wsgi:create()'`.

Each process that calls `create` runs its own first refresh and its own
scheduler (one scheduler per process), so do not preload the app in a master
process that forks workers afterwards: the scheduler thread would not survive the fork.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing.util
import os
import signal

from flask import Flask

from feedsvc.config import EXIT_WITH_PARENT_VAR, config_path, load_settings
from feedsvc.service import start_service

_PR_SET_PDEATHSIG = 1


def _exit_with_parent() -> None:
    """Ask Linux to send SIGTERM to this process when its parent dies; elsewhere do nothing."""
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return


def create(config: str | None = None) -> Flask:
    """Load the config (argument, else $FEEDSVC_CONFIG, else config/feedsvc.yaml) and start a service.

    Raises:
        ConfigError: the configuration is invalid; the message names the file and the key.
    """
    if os.environ.get(EXIT_WITH_PARENT_VAR) == "1":
        _exit_with_parent()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    service = start_service(load_settings(config_path(config)))
    # Stopped when the process exits: a multiprocessing worker (granian's) skips atexit
    # handlers but runs these finalizers; a plain process runs them at exit as well.
    multiprocessing.util.Finalize(None, service.stop, exitpriority=10)
    return service.app
