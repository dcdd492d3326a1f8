#!/usr/bin/env bash
# A Docker-compatible engine for `sam local invoke` on a machine without Docker: Podman from
# Debian's packages, its Docker API on a socket under .local/podman/. See local/README.md.
#
#   local/podman.sh install   apt-get the packages (idempotent; needs root)
#   local/podman.sh up        install, write the configuration, start the API service; prints DOCKER_HOST
#   local/podman.sh env       print the exports a shell needs to use this engine (podman CLI and DOCKER_HOST)
#   local/podman.sh qemu      register qemu-user-static for arm64 containers (opt-in, slow)
#   local/podman.sh bridge IMAGE    make sure the default network's bridge is up (runs one throwaway
#                             container from IMAGE when it is not); prints the address containers reach this machine on
#   local/podman.sh bridge-down     remove that bridge, as on a machine that never ran a container (tests)
#   local/podman.sh down      stop the API service (idempotent)
#   local/podman.sh status    is the service answering?
#
# Everything Podman keeps (storage, run state, networks, temporary files) is under .local/podman/.
# Nothing is written outside the project but the packages apt-get installs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.local/podman"
SOCK="$STATE/podman.sock"
PIDFILE="$STATE/service.pid"
LOGFILE="$STATE/service.log"
PACKAGES=(podman runc conmon containernetworking-plugins iptables uidmap catatonit mmdebstrap)

log() { printf '[podman.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

export CONTAINERS_CONF="$STATE/containers.conf"
export CONTAINERS_STORAGE_CONF="$STATE/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$STATE/registries.conf"

cmd_install() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  [[ "$(id -u)" == 0 ]] || die "needs root to install: ${missing[*]} (or install them yourself)"
  command -v apt-get >/dev/null || die "no apt-get: install ${missing[*]} with this system's package manager"
  log "installing ${missing[*]}"
  mkdir -p "$STATE"
  { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
    >"$STATE/apt.log" 2>&1 || { tail -n 30 "$STATE/apt.log" >&2; die "apt-get install failed"; }
}

write_config() {
  mkdir -p "$STATE/storage" "$STATE/run" "$STATE/tmp" "$STATE/networks" "$STATE/volumes"
  # This sandbox refuses to raise hard limits even for root (Podman's default ulimits try to);
  # crun refuses a mixed cgroup v1/v2 layout, and there is no systemd to manage cgroups.
  cat >"$CONTAINERS_CONF.new" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$STATE/events.log"
tmp_dir = "$STATE/tmp"
volume_path = "$STATE/volumes"

[network]
network_config_dir = "$STATE/networks"
EOF
  cat >"$CONTAINERS_STORAGE_CONF.new" <<EOF
[storage]
driver = "overlay"
graphroot = "$STATE/storage"
runroot = "$STATE/run"
EOF
  # No registry is reachable: images are built here (local/lambda-image.sh), never pulled.
  cat >"$CONTAINERS_REGISTRIES_CONF.new" <<EOF
unqualified-search-registries = []
EOF
  local f
  for f in "$CONTAINERS_CONF" "$CONTAINERS_STORAGE_CONF" "$CONTAINERS_REGISTRIES_CONF"; do
    mv "$f.new" "$f"
  done
}

service_alive() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
answering() { [[ -S "$SOCK" ]] && curl -fsS --max-time 3 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }

cmd_up() {
  cmd_install
  write_config
  if service_alive && answering; then
    echo "unix://$SOCK"
    return 0
  fi
  cmd_down >/dev/null 2>&1 || true
  rm -f "$SOCK"
  log "starting the Podman API service on $SOCK (log: $LOGFILE)"
  setsid podman system service --time=0 "unix://$SOCK" >>"$LOGFILE" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local i
  for i in $(seq 1 100); do
    answering && { echo "unix://$SOCK"; return 0; }
    service_alive || break
    sleep 0.1
  done
  tail -n 20 "$LOGFILE" >&2
  die "the Podman API service did not answer on $SOCK"
}

# arm64 containers on another architecture: qemu-user-static, registered in binfmt_misc.
cmd_qemu() {
  PACKAGES=(qemu-user-static binfmt-support arch-test)  # arch-test: mmdebstrap's foreign-architecture check
  cmd_install
  [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] && return 0
  [[ -e /proc/sys/fs/binfmt_misc/register ]] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] || die "qemu-aarch64 is not registered in binfmt_misc (this machine may not allow it)"
}

cmd_down() {
  if service_alive; then
    local pid
    pid="$(cat "$PIDFILE")"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    log "Podman API service stopped"
  fi
  rm -f "$PIDFILE" "$SOCK"
  # Podman bind-mounts its overlay folder onto itself; release it so `make clean` can remove .local/.
  if mountpoint -q "$STATE/storage/overlay" 2>/dev/null; then umount "$STATE/storage/overlay" 2>/dev/null || true; fi
}

# Podman (CNI) creates its default bridge (cni-podman0, 10.88.0.1) only when the first container
# on the default network starts: until then nothing can listen on the gateway address. One
# throwaway container brings it up; it then stays for the machine's life.
network_field() { podman network inspect podman --format "$1"; }
gateway() { network_field '{{range .Subnets}}{{.Gateway}}{{end}}'; }
bridge_up() { ip -o -4 addr show 2>/dev/null | grep -qF " $(gateway)/"; }

cmd_bridge() {
  local image="${1:?usage: local/podman.sh bridge IMAGE}" i
  if ! bridge_up; then
    log "bringing up Podman's default bridge ($(network_field '{{.NetworkInterface}}'), $(gateway)) with one throwaway container"
    podman run --rm --network podman --entrypoint /bin/true "$image" >>"$LOGFILE" 2>&1 ||
      { tail -n 20 "$LOGFILE" >&2; die "a container could not be started on the default network"; }
    for i in $(seq 1 50); do bridge_up && break; sleep 0.1; done
    bridge_up || die "the bridge's address $(gateway) did not appear after a container ran"
  fi
  gateway
}

cmd_bridge_down() {
  local interface
  interface="$(network_field '{{.NetworkInterface}}')"
  if ip link show "$interface" >/dev/null 2>&1; then
    ip link delete "$interface"
    log "removed $interface (as on a machine that never ran a container)"
  fi
}

cmd_env() {
  printf 'export CONTAINERS_CONF=%q CONTAINERS_STORAGE_CONF=%q CONTAINERS_REGISTRIES_CONF=%q\n' \
    "$CONTAINERS_CONF" "$CONTAINERS_STORAGE_CONF" "$CONTAINERS_REGISTRIES_CONF"
  printf 'export DOCKER_HOST=%q\n' "unix://$SOCK"
}

case "${1:-}" in
  install) cmd_install ;;
  qemu) cmd_qemu ;;
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env ;;
  bridge) shift; cmd_bridge "$@" ;;
  bridge-down) cmd_bridge_down ;;
  status) answering && echo "running: unix://$SOCK" || { echo "not running"; exit 1; } ;;
  *) echo "usage: local/podman.sh install|up|env|qemu|bridge IMAGE|bridge-down|down|status" >&2; exit 2 ;;
esac
