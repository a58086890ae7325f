# syntax=docker/dockerfile:1
#
# kcast prediction worker: `kcast serve` (FastAPI under uvicorn) on $PORT, 8080 by default.
#
#   build:  docker build -t kcast-worker .        (or `deploy/deploy.sh build`: Cloud Build;
#           scripts/build-image.sh: podman, on a base made from Debian's packages)
#   run:    docker run --rm -p 127.0.0.1:8080:8080 \
#               -e KCAST_WAREHOUSE=bigquery://PROJECT/DATASET -e KCAST_API_TOKEN kcast-worker
#           (the active models are found through the warehouse's model registry: gs:// URIs,
#           or paths relative to KCAST_MODEL_DIR, /home/kcast/models, where a volume may hold them)
#
# The worker listens on 0.0.0.0 inside the container, so `kcast serve` refuses to start unless
# writes are protected: KCAST_API_TOKEN set (POST /predict-batch that stores then needs
# `Authorization: Bearer <token>`), or KCAST_READ_ONLY=true, or the explicit opt-out
# KCAST_ALLOW_UNAUTHENTICATED_WRITES=true (only behind something that authenticates).
#
# The image holds kcast and its dependencies (with the BigQuery extra) and nothing else: no data,
# no models, no warehouse file, no test tools. KCAST_WAREHOUSE must be given at run time; the
# container refuses to start without it (it would otherwise create an empty DuckDB file).
# The same image runs any other kcast command, e.g. `docker run ... kcast-worker kcast status`.
# See docs/operations.md.

# The base of both stages: the official slim Python image by default. Any Debian bookworm with
# python3 (3.11), its venv module, `python` on PATH and useradd works: scripts/build-image.sh
# builds on one made from Debian's own packages (--build-arg BASE=localhost/kcast-base:bookworm).
ARG BASE=python:3.11.14-slim-bookworm

# --- build stage: a virtual environment with kcast installed from this repository ----------
FROM ${BASE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
RUN python -m venv /opt/kcast
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
# Every runtime dependency is pinned in pyproject.toml; the test extra is not installed.
RUN /opt/kcast/bin/pip install ".[bigquery,gcs]" \
    && /opt/kcast/bin/kcast --help > /dev/null

# --- runtime stage --------------------------------------------------------------------------
FROM ${BASE}

RUN groupadd --system --gid 10001 kcast \
    && useradd --system --uid 10001 --gid kcast --home-dir /home/kcast --create-home \
       --shell /usr/sbin/nologin kcast \
    && install -d -o kcast -g kcast /home/kcast/data /home/kcast/models

# /home/kcast/data and /home/kcast/models belong to uid 10001, so a named volume mounted on
# either starts out writable by the worker (deploy/compose.yaml mounts the DuckDB file's folder
# and the models there).
COPY --from=build /opt/kcast /opt/kcast

# KCAST_WAREHOUSE is deliberately not set here: it must be given (bigquery://PROJECT/DATASET).
ENV PATH="/opt/kcast/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MLB_ACTIVE_SYSTEMS=v1_baseline,v1_6_rolling,ensemble_v1,v2_matchup \
    KCAST_CACHE_DIR=/home/kcast/.cache/kcast \
    KCAST_MODEL_DIR=/home/kcast/models

USER 10001:10001
WORKDIR /home/kcast
EXPOSE 8080

# The labels come last: a new commit (VCS_REF) then rebuilds only this metadata, not the layers.
ARG BASE
ARG KCAST_VERSION=0.1.0
ARG VCS_REF=unknown

LABEL org.opencontainers.image.title="kcast-worker" \
      org.opencontainers.image.description="kcast prediction worker: MLB starting pitchers' strikeout forecasts from several systems, each behind a circuit breaker" \
      org.opencontainers.image.licenses="GPL-3.0-or-later" \
      org.opencontainers.image.version="${KCAST_VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.base.name="${BASE}"

# Healthy while /health answers with status ok or degraded (a breaker open); "down" (no
# warehouse, or no system usable) and no answer are unhealthy. Cloud Run ignores HEALTHCHECK
# and uses its own probes; docker and compose use this one.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import json, os, sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8080'), timeout=4); sys.exit(0 if json.load(r).get('status') in ('ok', 'degraded') else 1)"]

CMD ["/bin/sh", "-c", ": \"${KCAST_WAREHOUSE:?must be set: bigquery://PROJECT/DATASET, or a DuckDB file on a mounted volume}\" && exec kcast serve --host 0.0.0.0 --port \"${PORT:-8080}\""]
