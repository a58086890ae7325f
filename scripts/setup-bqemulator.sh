#!/usr/bin/env bash
# Install the BigQuery emulator (bqemulator) that kcast's BigQuery tests start on loopback.
#
#   scripts/setup-bqemulator.sh            # install (idempotent; does nothing when up to date)
#   scripts/setup-bqemulator.sh --print    # print the emulator's executable (installs if needed)
#
# Everything goes under ~/.cache/kcast-ci/bqemu/ (outside the checkout, shared by every checkout
# on the machine; one install at a time, a lock in that folder):
#   venv/                      the emulator's own virtualenv (kept apart from kcast's: bqemulator
#                              pins sqlglot<30.12, kcast uses a newer sqlglot)
#   home/.duckdb/extensions/   DuckDB's spatial and avro extensions, so that the emulator starts
#                              with no network (tests run it with HOME=<that folder>/home)
#   installed                  a stamp: the pins it was installed with
#
# Only PyPI is needed, and only for the install; starting the emulator needs no network.
# Why the pins (see docs/bigquery.md): a plain `pip install bqemulator` brings duckdb 2.x, for
# which PyPI has no spatial extension, and the emulator refuses to start without spatial; numpy is
# an undeclared runtime dependency.
#
# Environment: KCAST_BQEMU_DIR (default ${KCAST_CI_CACHE:-${XDG_CACHE_HOME:-~/.cache}/kcast-ci}/bqemu),
# PYTHON (default python3).
set -euo pipefail

CACHE="${KCAST_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kcast-ci}"
DIR="${KCAST_BQEMU_DIR:-$CACHE/bqemu}"
PYTHON="${PYTHON:-python3}"
VENV="$DIR/venv"
EMU_HOME="$DIR/home"
STAMP="$DIR/installed"
DUCKDB_VERSION="1.5.5"

log() { printf '[setup-bqemulator] %s\n' "$*" >&2; }

# Every package of the emulator's venv, pinned (resolved 2026-11 with duckdb pinned to 1.5.5).
constraints() {
  cat <<'PINS'
bqemulator==1.4.0
duckdb==1.5.5
duckdb-extension-spatial==1.5.5
duckdb-extension-avro==1.5.5
numpy==2.4.6
alembic==1.20.1
annotated-doc==0.0.7
annotated-types==0.8.0
anyio==4.16.0
asgiref==3.13.0
certifi==2026.10.19.post1
cffi==2.1.1
charset-normalizer==3.5.3
click==8.5.1
cryptography==50.0.2
fastapi==0.165.0
fastavro==1.13.1
google-api-core==2.44.0
google-auth==2.63.0
google-cloud-bigquery-storage==2.43.0
googleapis-common-protos==1.76.0
grpcio==1.85.3
grpcio-health-checking==1.80.1
grpcio-status==1.85.3
grpcio-tools==1.80.1
h11==0.16.0
httpcore==1.0.9
httptools==0.9.0
httpx==0.28.1
idna==3.20
Mako==1.4.3
MarkupSafe==3.0.4
opentelemetry-api==1.45.2
opentelemetry-exporter-http-transport==0.66b2
opentelemetry-exporter-otlp==1.45.2
opentelemetry-exporter-otlp-common==0.66b2
opentelemetry-exporter-otlp-proto-common==1.45.2
opentelemetry-exporter-otlp-proto-grpc==1.45.2
opentelemetry-exporter-otlp-proto-http==1.45.2
opentelemetry-instrumentation==0.66b2
opentelemetry-instrumentation-asgi==0.66b2
opentelemetry-instrumentation-fastapi==0.66b2
opentelemetry-instrumentation-grpc==0.66b2
opentelemetry-proto==1.45.2
opentelemetry-sdk==1.45.2
opentelemetry-semantic-conventions==0.66b2
opentelemetry-util-http==0.66b2
orjson==3.13.0
packaging==26.4
prometheus_client==0.26.0
proto-plus==1.29.0
protobuf==6.33.6
pyarrow==26.0.1
pyasn1==0.6.5
pyasn1_modules==0.4.2
pycparser==3.12
pydantic==2.14.4
pydantic-settings==2.16.3
pydantic_core==2.50.5
PyJWT==2.15.1
python-dotenv==1.2.4
pytz==2026.6
PyYAML==6.0.4
requests==2.34.2
SQLAlchemy==2.1.9
sqlglot==30.11.0
starlette==1.10.0
structlog==26.1.0
typing-inspection==0.4.5
typing_extensions==4.16.0
urllib3==2.8.0
uvicorn==0.54.0
uvloop==0.23.0
watchfiles==1.3.0
websockets==17.4
wrapt==2.5.2
PINS
}

pins_hash() { constraints | sha256sum | cut -c1-16; }

up_to_date() {
  [ -x "$VENV/bin/bqemulator" ] &&
    [ -f "$EMU_HOME/.duckdb/extensions/v$DUCKDB_VERSION/linux_amd64/spatial.duckdb_extension" ] &&
    [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(pins_hash)" ]
}

install() {
  local t0=$SECONDS
  mkdir -p "$DIR"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  constraints >"$DIR/constraints.txt"
  log "installing bqemulator 1.4.0 with duckdb $DUCKDB_VERSION into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    -c "$DIR/constraints.txt" \
    bqemulator duckdb duckdb-extension-spatial duckdb-extension-avro numpy

  # DuckDB looks for <HOME>/.duckdb/extensions/v<version>/<platform>/<name>.duckdb_extension;
  # with the file there, INSTALL is a no-op and LOAD needs no network.
  local site platform dest
  site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  platform="$(HOME="$EMU_HOME" "$VENV/bin/python" -c \
    'import duckdb; print(duckdb.connect().sql("PRAGMA platform").fetchone()[0])')"
  dest="$EMU_HOME/.duckdb/extensions/v$DUCKDB_VERSION/$platform"
  mkdir -p "$dest"
  for ext in spatial avro; do
    local src="$site/duckdb_extension_$ext/extensions/v$DUCKDB_VERSION/$ext.duckdb_extension"
    [ -f "$src" ] || { log "ERROR: $src is missing"; exit 1; }
    cp -f "$src" "$dest/$ext.duckdb_extension"
  done
  HOME="$EMU_HOME" "$VENV/bin/python" -c "
import duckdb
c = duckdb.connect()
c.execute('INSTALL spatial'); c.execute('LOAD spatial'); c.execute('LOAD avro')
assert duckdb.__version__ == '$DUCKDB_VERSION', duckdb.__version__
"
  pins_hash >"$STAMP"
  log "installed in $((SECONDS - t0)) s ($(du -sh "$DIR" | cut -f1))"
}

mkdir -p "$DIR"
exec 9>"$DIR/.lock"
if ! flock -n 9; then
  log "another install holds $DIR/.lock: waiting for it"
  flock 9
fi
if ! up_to_date; then
  install
else
  log "up to date ($VENV)"
fi
if [ "${1:-}" = "--print" ]; then
  echo "$VENV/bin/bqemulator"
fi
