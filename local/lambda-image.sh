#!/usr/bin/env bash
# A stand-in for public.ecr.aws/lambda/python:3.13-<arch>, for machines that cannot pull it
# (no registry reachable): Debian trixie's CPython 3.13 (mmdebstrap) plus PyPI's awslambdaric and
# boto3 (local/requirements-lambda-image.txt), laid out like the real image. Built into the
# engine DOCKER_HOST points at (local/podman.sh up) and tagged with the name SAM CLI looks for.
#
#   local/lambda-image.sh x86_64|arm64     build unless an image built from the same inputs exists
#
# The root filesystem archive and the wheels are kept in .local/lambda-image/<arch>/. arm64 on an
# x86_64 machine needs qemu-user-static registered in binfmt_misc (SAMLOCAL_ARCH=arm64 installs it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARCH="${1:?usage: local/lambda-image.sh x86_64|arm64}"
case "$ARCH" in
  x86_64) DEB_ARCH=amd64 WHEEL_PLATFORM=manylinux2014_x86_64 ;;
  arm64) DEB_ARCH=arm64 WHEEL_PLATFORM=manylinux2014_aarch64 ;;
  *) echo "unknown architecture $ARCH (x86_64 or arm64)" >&2; exit 2 ;;
esac
IMAGE="public.ecr.aws/lambda/python:3.13-$ARCH"
BASE="localhost/signbridge/debian-trixie-python:$ARCH"
WORK="$ROOT/.local/lambda-image/$ARCH"
REQS="$ROOT/local/requirements-lambda-image.txt"
PY="${PYTHON:-python3}"

log() { printf '[lambda-image.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

eval "$(bash "$ROOT/local/podman.sh" env)"
mkdir -p "$WORK"

# The inputs of the image: a rebuild happens only when one of them changes.
want="$(cat "$REQS" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)"
if [[ "$(podman image inspect --format '{{index .Labels "signbridge.inputs"}}' "$IMAGE" 2>/dev/null)" == "$want" ]]; then
  log "$IMAGE is current"
  exit 0
fi

if [[ "$ARCH" == arm64 && "$(uname -m)" != aarch64 ]]; then
  [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] || die "arm64 needs qemu-user-static in binfmt_misc (apt-get install qemu-user-static binfmt-support)"
fi

if ! podman image exists "$BASE"; then
  if [[ ! -s "$WORK/rootfs.tar" ]]; then
    log "building a Debian trixie root filesystem with python3 for $DEB_ARCH (mmdebstrap; ~40 s native, minutes under qemu)"
    mmdebstrap --quiet --format=tar --variant=minbase --architectures="$DEB_ARCH" --include=python3,ca-certificates \
      --keyring=/usr/share/keyrings/debian-archive-trixie-stable.gpg \
      trixie "$WORK/rootfs.tar.partial" http://deb.debian.org/debian >"$WORK/mmdebstrap.log" 2>&1 ||
      { tail -n 30 "$WORK/mmdebstrap.log" >&2; die "mmdebstrap failed"; }
    mv "$WORK/rootfs.tar.partial" "$WORK/rootfs.tar"
  fi
  podman import --quiet --arch "$DEB_ARCH" "$WORK/rootfs.tar" "$BASE" >/dev/null
fi

log "downloading $(grep -c '==' "$REQS") pinned packages as cp313 $WHEEL_PLATFORM wheels"
rm -rf "$WORK/context"
mkdir -p "$WORK/context/runtime"
"$PY" -m pip install --quiet --disable-pip-version-check --no-compile --only-binary=:all: \
  --platform "$WHEEL_PLATFORM" --implementation cp --python-version 3.13 \
  --target "$WORK/context/runtime" -r "$REQS" >"$WORK/pip.log" 2>&1 ||
  { tail -n 30 "$WORK/pip.log" >&2; die "pip could not fetch the runtime's wheels"; }

# What the Lambda runtime interface emulator (added by SAM CLI) starts: the runtime client, with
# the real image's module search order (function code, then layers, then the runtime's packages).
cat >"$WORK/context/bootstrap" <<'EOF'
#!/bin/sh
export PYTHONPATH="/var/task:/opt/python/lib/python3.13/site-packages:/opt/python:/var/runtime"
exec /var/lang/bin/python3.13 -m awslambdaric "$_HANDLER"
EOF
cat >"$WORK/context/Containerfile" <<EOF
FROM $BASE
RUN mkdir -p /var/lang/bin /var/task /opt \\
 && ln -sf /usr/bin/python3.13 /var/lang/bin/python3.13 \\
 && ln -sf /usr/bin/python3.13 /var/lang/bin/python3 \\
 && ln -sf /usr/bin/python3.13 /var/lang/bin/python
COPY runtime /var/runtime
COPY --chmod=0755 bootstrap /var/runtime/bootstrap
ENV LANG=en_US.UTF-8 TZ=:/etc/localtime PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin \\
    LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime
WORKDIR /var/task
LABEL signbridge.inputs=$want
ENTRYPOINT ["/var/runtime/bootstrap"]
EOF
log "building $IMAGE"
podman build --quiet --arch "$DEB_ARCH" --network none -t "$IMAGE" "$WORK/context" >"$WORK/build.log" 2>&1 ||
  { tail -n 30 "$WORK/build.log" >&2; die "podman build failed"; }
podman image prune --force >/dev/null 2>&1 || true
log "built $IMAGE ($(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%d MB", $1/1e6}'))"
