"""What a serving worker process is told through its environment: the only module that names those variables.

`feedsvc serve` sets them for the worker it starts; `feedsvc.wsgi:create` reads them
back, under gunicorn too, where a person sets them (README, "Deploying" and "Logs").
Plain values and the standard library only: every layer may import it, none is imported here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# The config file (else config/feedsvc.yaml); `feedsvc build` and `check` read it too.
CONFIG_VAR = "FEEDSVC_CONFIG"
# A build to serve instead of content (`feedsvc serve --from DIR|s3://BUCKET/PREFIX`, or gunicorn workers).
FROM_VAR = "FEEDSVC_FROM"
# A value of FROM_VAR that is a URL (`s3://bucket/site`), not a directory's path.
URL_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:/")
# site.feed_url when the config file sets none: `feedsvc serve` sets it from --host and --port,
# so that self links name the address it serves on.
FEED_URL_VAR = "FEEDSVC_FEED_URL"
# "1" when `feedsvc serve` started the worker: it ends with its supervisor, even one killed with -9,
# and takes SIGHUP (reload) and SIGTERM (stop) itself.
EXIT_WITH_PARENT_VAR = "FEEDSVC_EXIT_WITH_PARENT"
# "0" turns the request log off (`--no-access-log`); anything else, or nothing, leaves it on.
ACCESS_LOG_VAR = "FEEDSVC_ACCESS_LOG"
# "json" or "text" (`--log-format`); anything else, or nothing, is text.
LOG_FORMAT_VAR = "FEEDSVC_LOG_FORMAT"
VARIABLES = (CONFIG_VAR, FROM_VAR, FEED_URL_VAR, EXIT_WITH_PARENT_VAR, ACCESS_LOG_VAR, LOG_FORMAT_VAR)


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """How a worker serves: what (a config file or a build directory), at which address, and how it logs.

    The defaults are what a worker does when no variable is set.
    """

    config: Path | None = None  # None: the default config file
    build_dir: Path | None = None
    build_url: str | None = None  # a build in object storage (`s3://BUCKET/PREFIX`), instead of a directory
    feed_url: str | None = None
    exit_with_parent: bool = False
    access_log: bool = True
    log_format: str = "text"

    def to_environ(self) -> dict[str, str]:
        """Return the variables that give a worker these options (an option at its default may be left out)."""
        environ = {
            ACCESS_LOG_VAR: "1" if self.access_log else "0",
            LOG_FORMAT_VAR: self.log_format,
        }
        if self.config is not None:
            environ[CONFIG_VAR] = str(self.config)
        if self.build_url is not None:
            environ[FROM_VAR] = self.build_url
        elif self.build_dir is not None:
            environ[FROM_VAR] = str(self.build_dir)
        if self.feed_url:
            environ[FEED_URL_VAR] = self.feed_url
        if self.exit_with_parent:
            environ[EXIT_WITH_PARENT_VAR] = "1"
        return environ

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> WorkerOptions:
        """Read the options from an environment; an empty variable counts as not set."""
        source = environ.get(FROM_VAR) or ""
        url = URL_PATTERN.match(source) is not None
        return cls(
            config=Path(environ[CONFIG_VAR]) if environ.get(CONFIG_VAR) else None,
            build_dir=Path(source) if source and not url else None,
            build_url=source if url else None,
            feed_url=environ.get(FEED_URL_VAR) or None,
            exit_with_parent=environ.get(EXIT_WITH_PARENT_VAR) == "1",
            access_log=environ.get(ACCESS_LOG_VAR, "1") != "0",
            log_format=environ.get(LOG_FORMAT_VAR) or "text",
        )
