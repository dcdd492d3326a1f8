#!/usr/bin/env bash
# AWS's own event shapes, as `sam local generate-event` prints them, into tests/fixtures/sam_generated/
# (`make sam-events`). tests/unit/test_generated_events.py puts signbridge's bodies and keys into
# them and runs each handler on them. Re-run after upgrading SAM CLI (local/requirements-sam.txt).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/tests/fixtures/sam_generated"
SAM="$ROOT/.venv-sam/bin/sam"
export SAM_CLI_TELEMETRY=0

bash "$ROOT/local/stack.sh" venvs
mkdir -p "$OUT"
generate() {
  local file="$1"; shift
  "$SAM" local generate-event "$@" >"$OUT/$file.new"
  mv "$OUT/$file.new" "$OUT/$file"
  printf 'wrote %s (sam local generate-event %s)\n' "${OUT#"$ROOT"/}/$file" "$*"
}
generate sqs_receive_message.json sqs receive-message               # the forwarder's SQS event source
generate dynamodb_update.json dynamodb update                       # the outbox's table stream
generate apigateway_aws_proxy.json apigateway aws-proxy             # the API functions (REST proxy)
generate cloudwatch_scheduled_event.json cloudwatch scheduled-event # the sweeper's EventBridge schedule
"$SAM" --version >"$OUT/SAM_CLI_VERSION"
