#!/usr/bin/env bash
# make dev / make dev-stop: the whole system on this machine, no Docker.
#   up:   venvs, MiniStack, provider fakes, sam build + deploy, secrets seeded, .local/stack.json
#   down: stop the fakes and MiniStack
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
case "${1:-up}" in
  up)
    bash local/stack.sh venvs
    bash local/stack.sh start
    .venv/bin/python -m signbridge_tools.dev up
    ;;
  down)
    [[ -x .venv/bin/python ]] && .venv/bin/python -m signbridge_tools.dev down || true
    bash local/stack.sh stop
    ;;
  *) echo "usage: local/dev.sh up|down" >&2; exit 2 ;;
esac
