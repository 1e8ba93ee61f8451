# syntax=docker/dockerfile:1
# Build a wheel in one stage, install it into a slim runtime in the next.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY feedsvc ./feedsvc
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FEEDSVC_CONFIG=/srv/feedsvc/config/feedsvc.yaml \
    XDG_CACHE_HOME=/var/cache
# The parse cache (/var/cache/feedsvc) makes restarts fast; mount a volume there to keep it.
RUN useradd --system --uid 10001 --home-dir /srv/feedsvc --shell /usr/sbin/nologin feedsvc \
    && install -d -o feedsvc -g feedsvc /var/cache/feedsvc
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /srv/feedsvc
# The bundled examples, so that the image serves something out of the box;
# mount your own content and config over them (read-only is enough).
COPY --chown=root:root config ./config
COPY --chown=root:root examples ./examples
USER feedsvc
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
CMD ["feedsvc", "serve", "--host", "0.0.0.0", "--port", "8080"]
