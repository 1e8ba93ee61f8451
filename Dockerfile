# syntax=docker/dockerfile:1
# feedsvc: a directory of Markdown articles served as RSS, Atom and JSON Feed.
#
#   docker build -t feedsvc .
#   docker run -p 8080:8080 feedsvc            # serves the bundled examples
#
# Your own site (content and config mounted read-only: feedsvc never writes them):
#
#   docker run -p 8080:8080 \
#     -v /srv/articles:/srv/feedsvc/content:ro \
#     -v /srv/feedsvc.yaml:/srv/feedsvc/config/feedsvc.yaml:ro \
#     -v feedsvc-cache:/var/cache/feedsvc \
#     feedsvc
#
# Mount points:
#   /srv/feedsvc/content               your articles; in your config, `content: {dir: /srv/feedsvc/content}`
#                                      (or `../content`: a relative content.dir is read from the config's folder)
#   /srv/feedsvc/config/feedsvc.yaml   your config ($FEEDSVC_CONFIG). Mount its folder at /srv/feedsvc/config
#                                      instead to reload edits with SIGHUP: a file mount keeps the old file
#                                      when an editor replaces it.
#   /var/cache/feedsvc                 the parse cache (a named volume), so that a restart reads only changed files
#   /srv/build                         the build directory of `feedsvc build --out /srv/build --watch`, served by
#                                      `feedsvc serve --from /srv/build` or gunicorn with FEEDSVC_FROM=/srv/build;
#                                      compose.yaml runs one builder and two web replicas over a named volume there.
#
# gunicorn is installed too, for several workers over one build directory (see compose.yaml):
#   FEEDSVC_FROM=/srv/build gunicorn --workers 4 --bind 0.0.0.0:8080 --no-control-socket 'feedsvc.wsgi:create()'
# (never --preload; --no-control-socket: gunicorn would put its socket in the home folder, which is read-only).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Build the wheels of feedsvc (with its s3 extra, boto3: build --out / serve --from s3://), its dependencies and
# gunicorn; the runtime installs them offline.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY pyproject.toml README.md ./
COPY feedsvc ./feedsvc
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[s3]' gunicorn==27.0.1

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="feedsvc" \
      org.opencontainers.image.description="Markdown articles published as RSS 2.0, Atom 1.0 and JSON Feed 1.1"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    FEEDSVC_CONFIG=/srv/feedsvc/config/feedsvc.yaml \
    XDG_CACHE_HOME=/var/cache
# A fixed numeric uid and gid, so that volume ownership and `runAsNonRoot` checks are predictable.
# The writable directories are made here, owned by that user: an empty named volume mounted
# on one of them starts with its owner, so the builder can write /srv/build and the cache.
RUN groupadd --system --gid 10001 feedsvc \
    && useradd --system --uid 10001 --gid feedsvc --no-create-home --home-dir /srv/feedsvc \
        --shell /usr/sbin/nologin feedsvc \
    && install -d -m 0755 /srv/feedsvc/content \
    && install -d -m 0755 -o feedsvc -g feedsvc /var/cache/feedsvc /srv/build
# Bound from the build stage rather than copied: the wheels take no layer of the image.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index /wheels/*.whl
WORKDIR /srv/feedsvc
# The bundled examples, so that the image serves something out of the box: config/feedsvc.yaml
# reads ../examples/content. Owned by root: the service only reads them.
COPY --chown=root:root config ./config
COPY --chown=root:root examples ./examples
USER 10001:10001
EXPOSE 8080
# The CLI asks /healthz: healthy when it answers ok, or degraded (the content directory gone and the
# last good feeds serving: a restart would not bring it back); unhealthy when it does not answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["feedsvc", "health", "--url", "http://127.0.0.1:8080/healthz", "--timeout", "4"]
# SIGTERM (docker stop) answers requests in flight, writes the parse cache and exits 0.
CMD ["feedsvc", "serve", "--host", "0.0.0.0", "--port", "8080"]
