#!/usr/bin/env bash
# Build kcast's image with podman, on a base made from Debian's own packages (no image registry
# is needed: only Debian's apt mirror and PyPI).
#
#   scripts/build-image.sh            # build (the base is made once and cached)
#   scripts/build-image.sh --podman   # build, then print the podman wrapper the tests use
#   scripts/build-image.sh --refresh-base   # make the Debian base again (newer packages)
#
# Steps:
#   1. podman, runc and debootstrap from Debian (pinned below), when missing (installing needs
#      root; a machine without them and not root fails here, saying so), and podman-compose
#      from PyPI (pinned) in its own virtualenv: Debian's 1.0.3 drops `${VAR:-}` defaults and
#      cannot put a service on the host's network;
#   2. a containers.conf and a podman wrapper for a machine like CI's (cgroups v1, no systemd,
#      root): runc, cgroupfs, `default_ulimits = []`, events to a file, and a storage driver
#      (KCAST_PODMAN_STORAGE);
#   3. the base: `debootstrap --variant=minbase bookworm` with python3, its venv module,
#      python-is-python3 and ca-certificates, tarred and imported as localhost/kcast-base:KEY
#      (KEY hashes what goes into it, so a second run reuses it);
#   4. `podman build --build-arg BASE=localhost/kcast-base:KEY -t localhost/kcast-worker:ci`.
#      RUN steps use the host's network (pip reaches PyPI) with the host's pip.conf and CA bundle
#      mounted in for the build only; neither ends up in the image.
#
# Everything goes under ~/.cache/kcast-ci/image/ (outside the checkout, shared by every checkout
# on the machine, so a second build reuses the base and podman's layers): storage-DRIVER/
# (podman's images), podman and podman-compose (the wrappers), compose-venv/, containers.conf,
# base-KEY.tar, packages-KEY.txt (the base's Debian packages and versions), build.log and
# last-build.json (seconds, bytes, image id). One build at a time: a second waits for the first
# (a lock in that folder); both tag the same KCAST_IMAGE, so the last build is the one tested.
#
# Environment: KCAST_IMAGE_DIR (default ${KCAST_CI_CACHE:-${XDG_CACHE_HOME:-~/.cache}/kcast-ci}/image),
# KCAST_DEBIAN_MIRROR
# (default http://deb.debian.org/debian), KCAST_IMAGE (default localhost/kcast-worker:ci),
# KCAST_PODMAN_STORAGE (overlay, vfs, or auto: overlay where the kernel mounts it on this
# filesystem, else vfs, which works everywhere but copies every layer in full).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${KCAST_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kcast-ci}"
DIR="${KCAST_IMAGE_DIR:-$CACHE/image}"
MIRROR="${KCAST_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
IMAGE="${KCAST_IMAGE:-localhost/kcast-worker:ci}"
STORAGE="${KCAST_PODMAN_STORAGE:-auto}"
SUITE=bookworm
BASE_PACKAGES=python3,python3-venv,python-is-python3,ca-certificates
# Debian bookworm's versions, pinned; `apt-get install` refuses when the mirror no longer has one.
HOST_PACKAGES=(
  podman=4.3.1+ds1-8+deb12u1+b3
  runc=1.1.5+ds1-1+deb12u1
  debootstrap=1.0.128+nmu2+deb12u2
  containernetworking-plugins=1.1.1+ds1-3+b5
)

# podman-compose and its dependencies, from PyPI
COMPOSE_PINS=(podman-compose==1.6.0 python-dotenv==1.2.4 PyYAML==6.0.4)

log() { printf '[build-image] %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

install_host_packages() {
  local missing=()
  for pin in "${HOST_PACKAGES[@]}"; do
    local name="${pin%%=*}" want="${pin#*=}" have
    have="$(dpkg-query -W -f='${Version}' "$name" 2>/dev/null || true)"
    [ "$have" = "$want" ] || missing+=("$pin")
  done
  [ "${#missing[@]}" -eq 0 ] && return
  [ "$(id -u)" -eq 0 ] || die "needs root to install ${missing[*]} (apt-get install)"
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null
}

# overlay when this kernel mounts it over the storage folder's filesystem, else vfs
storage_driver() {
  case "$STORAGE" in
    overlay | vfs) echo "$STORAGE" ;;
    auto)
      local probe="$DIR/overlay-probe"
      rm -rf "$probe" && mkdir -p "$probe"/{lower,upper,work,merged}
      if mount -t overlay overlay \
        -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" \
        "$probe/merged" 2>/dev/null; then
        umount "$probe/merged"
        echo overlay
      else
        echo vfs
      fi
      rm -rf "$probe"
      ;;
    *) die "KCAST_PODMAN_STORAGE=$STORAGE: use overlay, vfs or auto" ;;
  esac
}

# The podman every step (and the tests, and podman-compose) runs: its own storage and config.
write_podman_wrapper() {
  local runroot driver
  driver="$(storage_driver)"
  # conmon's socket paths must stay short: the run root goes under /run, not the repository
  runroot="/run/kcast-podman-$(printf '%s' "$DIR/$driver" | sha256sum | cut -c1-12)"
  mkdir -p "$DIR/storage-$driver" "$DIR/tmp"
  log "podman storage: $driver ($DIR/storage-$driver)"
  cat >"$DIR/containers.conf" <<'CONF'
# podman on a host with cgroups v1, no systemd, as root (see scripts/build-image.sh)
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  cat >"$DIR/podman" <<WRAPPER
#!/bin/sh
# podman with kcast's storage and containers.conf (written by scripts/build-image.sh)
CONTAINERS_CONF="$DIR/containers.conf" TMPDIR="$DIR/tmp" exec podman \\
  --root "$DIR/storage-$driver" --runroot "$runroot" --storage-driver $driver \\
  --runtime runc --cgroup-manager cgroupfs "\$@"
WRAPPER
  chmod +x "$DIR/podman"
}

install_compose() {
  local venv="$DIR/compose-venv"
  if [ "$(cat "$venv/installed" 2>/dev/null)" != "${COMPOSE_PINS[*]}" ]; then
    log "installing ${COMPOSE_PINS[*]} into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${COMPOSE_PINS[@]}"
    echo "${COMPOSE_PINS[*]}" >"$venv/installed"
  fi
  cat >"$DIR/podman-compose" <<WRAPPER
#!/bin/sh
# podman-compose with kcast's podman (written by scripts/build-image.sh)
exec "$venv/bin/podman-compose" --podman-path "$DIR/podman" "\$@"
WRAPPER
  chmod +x "$DIR/podman-compose"
}

base_key() {
  printf '%s\n' "$SUITE" "$BASE_PACKAGES" "$MIRROR" "$(dpkg-query -W -f='${Version}' debootstrap)" |
    sha256sum | cut -c1-12
}

# A half-made root (debootstrap interrupted) may still have /proc or /sys mounted in it.
remove_rootfs() {
  local mnt
  [ -e "$1" ] || return 0
  awk -v root="$1/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r mnt; do umount -l "$mnt"; done
  rm -rf --one-file-system "$1"
}

make_base() {
  local key="$1" tag="localhost/kcast-base:$1" tarball="$DIR/base-$1.tar"
  if [ "${REFRESH_BASE:-0}" = 1 ]; then
    rm -f "$tarball"
    "$DIR/podman" rmi -f "$tag" >/dev/null 2>&1 || true
  fi
  if "$DIR/podman" image exists "$tag"; then
    log "base $tag: cached"
    return
  fi
  if [ ! -f "$tarball" ]; then
    local t0=$SECONDS rootfs="$DIR/rootfs.partial"
    remove_rootfs "$rootfs"
    log "debootstrap $SUITE ($BASE_PACKAGES) from $MIRROR"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$rootfs" "$MIRROR" \
      >"$DIR/debootstrap.log" 2>&1 || die "debootstrap failed; see $DIR/debootstrap.log"
    chroot "$rootfs" dpkg-query -W -f='${Package}=${Version}\n' >"$DIR/packages-$key.txt"
    # what an image needs no copy of: apt's lists and downloaded packages, docs, man pages
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/usr/share/doc/* \
      "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
    tar --numeric-owner -C "$rootfs" -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
    remove_rootfs "$rootfs"
    log "base made in $((SECONDS - t0)) s: $(du -h "$tarball" | cut -f1)"
  fi
  "$DIR/podman" import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["python3"]' "$tarball" "$tag" >/dev/null
  log "base $tag imported"
}

build_image() {
  local base="$1" t0 seconds mounts=() cafile
  # pip inside the build uses this machine's pip.conf and CA bundle (a proxy's CA, if any)
  cafile="$(python3 -c 'import ssl; print(ssl.get_default_verify_paths().openssl_cafile)')"
  [ -f /etc/ssl/certs/ca-certificates.crt ] && cafile=/etc/ssl/certs/ca-certificates.crt
  mounts+=(--volume "$cafile:/etc/ssl/certs/ca-certificates.crt:ro")
  if [ -f /etc/pip.conf ]; then
    mounts+=(--volume /etc/pip.conf:/etc/pip.conf:ro)
  else
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$DIR/pip.conf"
    mounts+=(--volume "$DIR/pip.conf:/etc/pip.conf:ro")
  fi
  local previous
  previous="$("$DIR/podman" image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
  t0=$(date +%s.%N)
  # --format docker: the OCI format has no HEALTHCHECK, and the image keeps its own
  "$DIR/podman" build --format docker --network=host --build-arg "BASE=$base" \
    --build-arg "VCS_REF=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "${mounts[@]}" -t "$IMAGE" -f "$REPO/Dockerfile" "$REPO" >"$DIR/build.log" 2>&1 ||
    die "podman build failed; see $DIR/build.log"
  seconds="$(python3 -c "import sys; print(round($(date +%s.%N) - $t0, 1))")"
  local size id
  size="$("$DIR/podman" image inspect --format '{{.Size}}' "$IMAGE")"
  id="$("$DIR/podman" image inspect --format '{{.Id}}' "$IMAGE")"
  # the image this build replaced (its layers stay as long as the cache uses them)
  if [ -n "$previous" ] && [ "$previous" != "$id" ]; then
    "$DIR/podman" rmi "$previous" >/dev/null 2>&1 || true
  fi
  printf '{"image": "%s", "id": "%s", "base": "%s", "seconds": %s, "bytes": %s}\n' \
    "$IMAGE" "$id" "$base" "$seconds" "$size" >"$DIR/last-build.json"
  log "built $IMAGE in $seconds s: $((size / 1000000)) MB"
}

REFRESH_BASE=0
PRINT=0
for arg in "$@"; do
  case "$arg" in
    --refresh-base) REFRESH_BASE=1 ;;
    --podman) PRINT=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument $arg (see --help)" ;;
  esac
done

install_host_packages
mkdir -p "$DIR"
exec 9>"$DIR/.lock"
if ! flock -n 9; then
  log "another build holds $DIR/.lock: waiting for it"
  flock 9
fi
write_podman_wrapper
install_compose
key="$(base_key)"
make_base "$key"
build_image "localhost/kcast-base:$key"
if [ "$PRINT" = 1 ]; then
  echo "$DIR/podman"
fi
