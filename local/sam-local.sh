#!/usr/bin/env bash
# make sam-local: invoke every function through SAM CLI's own local runtime (`sam local invoke`),
# against the running local stack, and check what each prints. See docs/sam.md.
#
#   1. engine: Docker when a Docker daemon answers (`docker info`); otherwise Podman from Debian's
#      packages (local/podman.sh) and a stand-in Lambda Python 3.13 image (local/lambda-image.sh)
#   2. the local stack (`make dev`) on MINISTACK_PORT, started here if it is not running
#      (and stopped again at the end; SAMLOCAL_KEEP_STACK=1 leaves it up). A Podman service
#      started here is stopped at the end too.
#   3. sam build for this machine's architecture (template parameter Architecture), into
#      .aws-sam/build-samlocal-<arch>
#   4. python -m signbridge_tools.samlocal run: the invocations and their checks
#
# `local/sam-local.sh start-api [--check]` (make start-api) does steps 1-3, then serves the API with
# `sam local start-api` on 127.0.0.1:${SAMLOCAL_API_PORT:-3000} until Ctrl-C; --check makes a few
# requests through it instead, writes .local/sam-local/start-api.json and stops.
#
# Exit status: 0 all checks passed, 1 a check failed (see .local/sam-local/results.json), 3 no
# container engine could be provisioned on this machine.
# Env: MINISTACK_PORT (default 4566), SAMLOCAL_ARCH=arm64 for the real Lambda architecture under
# qemu on an x86_64 machine (slow; installs qemu-user-static), SAMLOCAL_ENGINE=podman to use
# Podman even where Docker answers.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STATE="$ROOT/.local/sam-local"
mkdir -p "$STATE"
export MINISTACK_PORT="${MINISTACK_PORT:-4566}"
export MINISTACK_ENDPOINT="http://127.0.0.1:$MINISTACK_PORT"
export SAM_CLI_TELEMETRY=0

log() { printf '[sam-local.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

MODE="${1:-invoke}"
[[ "$MODE" == invoke || "$MODE" == start-api ]] || die "usage: $0 [start-api [--check]]"
T0="$(now)"
CLEANUP=()
cleanup() { local step; for step in "${CLEANUP[@]}"; do eval "$step" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT
[[ "$MODE" == start-api ]] || rm -f "$STATE/results.json" "$STATE/timings.json"
case "$(uname -m)" in
  x86_64 | amd64) NATIVE=x86_64 ;;
  aarch64 | arm64) NATIVE=arm64 ;;
  *) die "unsupported machine architecture $(uname -m)" ;;
esac
ARCH="${SAMLOCAL_ARCH:-$NATIVE}"
[[ "$ARCH" == x86_64 || "$ARCH" == arm64 ]] || die "SAMLOCAL_ARCH must be x86_64 or arm64"

# ---------------------------------------------------------------- 1. engine
T="$(now)"
if [[ "${SAMLOCAL_ENGINE:-}" != podman ]] && command -v docker >/dev/null && timeout 30 docker info >/dev/null 2>&1; then
  ENGINE=docker
  # The default network: "bridge" on Docker ("podman" when DOCKER_HOST points at a Podman socket).
  HOST_IP="$(docker network inspect bridge --format '{{(index .IPAM.Config 0).Gateway}}' 2>/dev/null ||
    docker network inspect podman --format '{{(index .IPAM.Config 0).Gateway}}' 2>/dev/null || true)"
  log "using Docker (containers reach this machine on $HOST_IP)"
else
  ENGINE=podman
  # A service this run starts is stopped at the end (it starts again in well under a second).
  bash local/podman.sh status >/dev/null 2>&1 || CLEANUP+=("bash local/podman.sh down")
  # Exit 3: no container engine could be provisioned here (the test suite skips on it, unless required).
  bash local/podman.sh up >/dev/null || { log "no Docker daemon, and Podman could not be provisioned"; exit 3; }
  eval "$(bash local/podman.sh env)"
  [[ "$ARCH" == "$NATIVE" ]] || bash local/podman.sh qemu || exit 3
  PROVISION_S="$(since "$T")"
  T="$(now)"
  bash local/lambda-image.sh "$ARCH" || { log "the stand-in Lambda image could not be built"; exit 3; }
  IMAGE_S="$(since "$T")"
  # SAMLOCAL_FRESH_BRIDGE=1 (the samlocal suite): first remove the default bridge, so that every
  # run takes the path of a machine that never ran a container.
  if [[ "${SAMLOCAL_FRESH_BRIDGE:-}" == 1 ]]; then bash local/podman.sh bridge-down; BRIDGE=removed; else BRIDGE=kept; fi
  HOST_IP="$(bash local/podman.sh bridge "public.ecr.aws/lambda/python:3.13-$ARCH")" || exit 3
  log "using Podman at $DOCKER_HOST (engine ready in ${PROVISION_S} s, image in ${IMAGE_S} s; containers reach this machine on $HOST_IP)"
fi
[[ -n "$HOST_IP" ]] || die "could not tell the address containers reach this machine on"

# ---------------------------------------------------------------- 2. the local stack
T="$(now)"
bash local/stack.sh venvs
stack_up() {
  bash local/stack.sh status >/dev/null 2>&1 && [[ -f .local/stack.json ]] &&
    grep -q "\"endpoint_url\": \"$MINISTACK_ENDPOINT\"" .local/stack.json
}
if ! stack_up; then
  log "starting the local stack on $MINISTACK_ENDPOINT (make dev)"
  bash local/dev.sh up >"$STATE/dev.log" 2>&1 || { tail -n 30 "$STATE/dev.log" >&2; die "make dev failed"; }
  [[ "${SAMLOCAL_KEEP_STACK:-}" == 1 ]] || CLEANUP=("bash local/dev.sh down" "${CLEANUP[@]}")
fi
STACK_S="$(since "$T")"

# ---------------------------------------------------------------- 3. build for $ARCH
T="$(now)"
BUILD_DIR=".aws-sam/build-samlocal-$ARCH"
log "sam build for $ARCH into $BUILD_DIR"
LAYER_ARCH="$ARCH" .venv-sam/bin/sam build --build-dir "$BUILD_DIR" --cache-dir ".aws-sam/cache-samlocal-$ARCH" \
  --parameter-overrides "Architecture=$ARCH" --parallel >"$STATE/build.log" 2>&1 ||
  { tail -n 30 "$STATE/build.log" >&2; die "sam build failed"; }
BUILD_S="$(since "$T")"

# ---------------------------------------------------------------- 4. invoke and check (or serve the API)
T="$(now)"
status=0
if [[ "$MODE" == start-api ]]; then
  .venv/bin/python -m signbridge_tools.samlocal start-api --template "$BUILD_DIR/template.yaml" --arch "$ARCH" \
    --host-ip "$HOST_IP" --engine "$ENGINE" --port "${SAMLOCAL_API_PORT:-3000}" \
    $([[ "$ARCH" == "$NATIVE" ]] || echo --emulated) "${@:2}" || status=$?
  log "engine ${PROVISION_S:-0} s, image ${IMAGE_S:-0} s, stack $STACK_S s, build $BUILD_S s, start-api $(since "$T") s"
  exit "$status"
fi
.venv/bin/python -m signbridge_tools.samlocal run --template "$BUILD_DIR/template.yaml" --arch "$ARCH" \
  --host-ip "$HOST_IP" --engine "$ENGINE" $([[ "$ARCH" == "$NATIVE" ]] || echo --emulated) || status=$?
INVOKE_S="$(since "$T")"
cat >"$STATE/timings.json" <<EOF
{"engine": "$ENGINE", "arch": "$ARCH", "bridge_before_run": "${BRIDGE:-docker}", "engine_seconds": ${PROVISION_S:-0}, "image_seconds": ${IMAGE_S:-0},
 "stack_seconds": $STACK_S, "build_seconds": $BUILD_S, "invoke_seconds": $INVOKE_S, "total_seconds": $(since "$T0")}
EOF
log "engine ${PROVISION_S:-0} s, image ${IMAGE_S:-0} s, stack $STACK_S s, build $BUILD_S s, invocations $INVOKE_S s, total $(since "$T0") s"
exit "$status"
