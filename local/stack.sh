#!/usr/bin/env bash
# Run the SAM template locally on MiniStack (no Docker). See local/README.md.
#
#   local/stack.sh venvs     create .venv-ministack and .venv-sam (idempotent, quiet)
#   local/stack.sh start     start MiniStack on 127.0.0.1:4566 in the background, wait until ready
#                            (state is in memory; MINISTACK_PERSIST=1 keeps it in .local/ across restarts)
#   local/stack.sh deploy    sam build (LAYER_TARGET=local) + sam deploy; prints stack outputs JSON
#                            env: STACK_NAME (default signbridge-local), PARAMETER_OVERRIDES
#   local/stack.sh outputs   print the stack outputs as JSON
#   local/stack.sh info      print REST API ids/stages/local base URLs and API key values as JSON
#   local/stack.sh logs [-f] [LogicalId]   print function logs (CloudWatch Logs in MiniStack)
#   local/stack.sh delete    sam delete the stack
#   local/stack.sh status    is MiniStack running?
#   local/stack.sh stop      stop MiniStack (idempotent)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/local"
STATE="$ROOT/.local"
MS_VENV="$ROOT/.venv-ministack"
SAM_VENV="$ROOT/.venv-sam"
MS_PY="$MS_VENV/bin/python"
SAM="$SAM_VENV/bin/sam"
PIDFILE="$STATE/ministack.pid"
LOGFILE="$STATE/ministack.log"
BUILD_DIR="$ROOT/.aws-sam/build-local"

MS_HOST=127.0.0.1
MS_PORT="${MINISTACK_PORT:-4566}"
ENDPOINT="http://$MS_HOST:$MS_PORT"
REGION=us-east-1
STACK_NAME="${STACK_NAME:-signbridge-local}"
PARAMETER_OVERRIDES="${PARAMETER_OVERRIDES:-}"
ARTIFACT_BUCKET="${ARTIFACT_BUCKET:-signbridge-local-sam-artifacts}"

log() { printf '[stack.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Environment for every AWS client call against MiniStack (sam, boto3).
aws_env() {
  export AWS_ENDPOINT_URL="$ENDPOINT" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
  export AWS_DEFAULT_REGION="$REGION" AWS_REGION="$REGION" SAM_CLI_TELEMETRY=0
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE
}

# make_venv DIR REQUIREMENTS: (re)install only when the requirements file changed.
make_venv() {
  local dir="$1" req="$2" stamp="$1/.requirements.sha256" want
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  if [[ -x "$dir/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  mkdir -p "$STATE"
  local vlog="$STATE/$(basename "$dir").install.log"
  log "installing $(basename "$dir") (log: $vlog)"
  [[ -x "$dir/bin/python" ]] || python3 -m venv "$dir" >"$vlog" 2>&1 || { cat "$vlog" >&2; die "python3 -m venv failed"; }
  if ! "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >>"$vlog" 2>&1; then
    tail -n 40 "$vlog" >&2
    die "pip install -r $req failed"
  fi
  echo "$want" >"$stamp"
}

cmd_venvs() {
  command -v python3 >/dev/null || die "python3 not found"
  make_venv "$MS_VENV" "$HERE/requirements-ministack.txt"
  make_venv "$SAM_VENV" "$HERE/requirements-sam.txt"
}

ms_pid() { [[ -f "$PIDFILE" ]] && cat "$PIDFILE" || true; }
ms_alive() { local p; p="$(ms_pid)"; [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; }

# 0 when MiniStack answers /_ministack/ready with 200.
ms_ready() {
  "$MS_PY" - "$ENDPOINT" <<'PY' 2>/dev/null
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1] + "/_ministack/ready", timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

cmd_start() {
  make_venv "$MS_VENV" "$HERE/requirements-ministack.txt"
  mkdir -p "$STATE"
  if ms_alive && ms_ready; then
    return 0
  fi
  if ! ms_alive && ms_ready; then
    die "something else already answers on $ENDPOINT (not started by this script); stop it or set MINISTACK_PORT"
  fi
  if ! ms_alive; then
    rm -f "$PIDFILE"
    log "starting MiniStack on $ENDPOINT (log: $LOGFILE)"
    # Handlers run as subprocesses of MiniStack and inherit its environment (plus the
    # function's Environment.Variables, AWS_REGION, AWS_ENDPOINT_URL=$ENDPOINT, credentials).
    (
      cd "$STATE"
      unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN
      export BIND_HOST="$MS_HOST" GATEWAY_PORT="$MS_PORT" MINISTACK_REGION="$REGION" \
        AWS_DEFAULT_REGION="$REGION" AWS_ENDPOINT_URL="$ENDPOINT" \
        AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
        IOT_MTLS_ENABLED=0 SFTP_ENABLED=0 TMPDIR="${TMPDIR:-/tmp}"
      if [[ "${MINISTACK_PERSIST:-0}" == 1 ]]; then
        # Opt-in: state saved to .local/ministack-state on stop, reloaded on start.
        export PERSIST_STATE=1 STATE_DIR="$STATE/ministack-state" S3_PERSIST=1 S3_DATA_DIR="$STATE/ministack-s3"
      fi
      exec setsid "$MS_VENV/bin/ministack" >>"$LOGFILE" 2>&1 </dev/null
    ) &
    echo $! >"$PIDFILE"
  fi
  local i
  for i in $(seq 1 120); do
    if ms_ready; then
      log "MiniStack ready (pid $(ms_pid))"
      return 0
    fi
    ms_alive || { tail -n 30 "$LOGFILE" >&2; rm -f "$PIDFILE"; die "MiniStack exited during startup"; }
    sleep 0.5
  done
  tail -n 30 "$LOGFILE" >&2
  die "MiniStack not ready after 60s"
}

cmd_stop() {
  local p i
  p="$(ms_pid)"
  if [[ -z "$p" ]] || ! kill -0 "$p" 2>/dev/null; then
    rm -f "$PIDFILE"
    return 0
  fi
  log "stopping MiniStack (pid $p)"
  # setsid made it a process-group leader: signal the group so handler workers go too.
  kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
  for i in $(seq 1 40); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$p" 2>/dev/null; then
    kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
}

cmd_status() {
  if ms_alive && ms_ready; then echo "running pid=$(ms_pid) endpoint=$ENDPOINT"; else echo "stopped"; return 1; fi
}

ensure_make() {
  command -v make >/dev/null && return 0
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "installing make (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make; } >"$STATE/apt.log" 2>&1 \
      || { cat "$STATE/apt.log" >&2; die "apt-get install make failed"; }
  else
    die "'make' is required by sam build (BuildMethod: makefile)"
  fi
}

# Python helper run in the MiniStack venv (it has boto3). Args: mode [extra].
py_aws() {
  aws_env
  "$MS_PY" - "$STACK_NAME" "$ENDPOINT" "$@" <<'PY'
import json, sys, time
import boto3
from botocore.exceptions import ClientError

stack, endpoint, mode = sys.argv[1], sys.argv[2], sys.argv[3]
extra = sys.argv[4:]
cfg = dict(endpoint_url=endpoint, region_name="us-east-1")
cf = boto3.client("cloudformation", **cfg)

def resources(rtype):
    out = {}
    for page in cf.get_paginator("list_stack_resources").paginate(StackName=stack):
        for r in page["StackResourceSummaries"]:
            if r["ResourceType"] == rtype:
                out[r["LogicalResourceId"]] = r["PhysicalResourceId"]
    return out

try:
    if mode == "bucket":
        s3 = boto3.client("s3", **cfg)
        try:
            s3.head_bucket(Bucket=extra[0])
        except ClientError:
            s3.create_bucket(Bucket=extra[0])
        sys.exit(0)
    if mode == "outputs":
        st = cf.describe_stacks(StackName=stack)["Stacks"][0]
        print(json.dumps({o["OutputKey"]: o["OutputValue"] for o in st.get("Outputs", [])}, indent=2, sort_keys=True))
    elif mode == "info":
        apigw = boto3.client("apigateway", **cfg)
        apis = {}
        for logical, api_id in resources("AWS::ApiGateway::RestApi").items():
            stages = [s["stageName"] for s in apigw.get_stages(restApiId=api_id)["item"]]
            apis[logical] = {
                "id": api_id,
                "stages": stages,
                "localBaseUrls": {s: f"{endpoint}/_aws/execute-api/{api_id}/{s}" for s in stages},
            }
        keys = {}
        for logical, key_id in resources("AWS::ApiGateway::ApiKey").items():
            keys[logical] = {"id": key_id, "value": apigw.get_api_key(apiKey=key_id, includeValue=True).get("value")}
        print(json.dumps({"RestApis": apis, "ApiKeys": keys}, indent=2, sort_keys=True))
    elif mode == "logs":
        follow = "-f" in extra
        wanted = [a for a in extra if a != "-f"]
        funcs = resources("AWS::Lambda::Function")
        if wanted:
            funcs = {k: v for k, v in funcs.items() if k in wanted or v in wanted}
            if not funcs:
                sys.exit(f"no function {wanted} in stack {stack}")
        logs = boto3.client("logs", **cfg)
        seen = {k: 0 for k in funcs}
        while True:
            for logical, name in funcs.items():
                kwargs = dict(logGroupName=f"/aws/lambda/{name}", startTime=seen[logical])
                try:
                    events = []
                    for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
                        events.extend(page.get("events", []))
                except ClientError:
                    continue  # no log group yet: never invoked
                for e in events:
                    if e["timestamp"] < seen[logical]:
                        continue
                    ts = time.strftime("%H:%M:%S", time.localtime(e["timestamp"] / 1000))
                    print(f"{ts} {logical} {e['message'].rstrip()}", flush=True)
                if events:
                    seen[logical] = max(e["timestamp"] for e in events) + 1
            if not follow:
                break
            time.sleep(1)
except ClientError as e:
    sys.exit(f"{mode}: {e}")
except KeyboardInterrupt:
    pass
PY
}

write_samconfig() {
  # The repo's samconfig.toml (if any) targets real AWS (profile, bucket, region...): it is
  # deliberately NOT read for the local flow; this one is used instead.
  mkdir -p "$STATE"
  cat >"$STATE/samconfig.toml" <<'EOF'
version = 0.1
EOF
}

cmd_deploy() {
  cmd_venvs
  cmd_start
  ensure_make
  write_samconfig
  aws_env
  [[ -f "$ROOT/template.yaml" ]] || die "no template.yaml at $ROOT"
  local t0 t1 t2
  t0=$(date +%s)
  log "sam build (LAYER_TARGET=local) -> $BUILD_DIR"
  (
    cd "$ROOT"
    LAYER_TARGET=local "$SAM" build --config-file "$STATE/samconfig.toml" \
      --template-file "$ROOT/template.yaml" --build-dir "$BUILD_DIR" >&2
  ) || die "sam build failed"
  t1=$(date +%s)
  py_aws bucket "$ARTIFACT_BUCKET"
  local args=(
    deploy --config-file "$STATE/samconfig.toml"
    --template-file "$BUILD_DIR/template.yaml"
    --stack-name "$STACK_NAME" --region "$REGION" --s3-bucket "$ARTIFACT_BUCKET" --s3-prefix "$STACK_NAME"
    --capabilities CAPABILITY_IAM CAPABILITY_NAMED_IAM CAPABILITY_AUTO_EXPAND
    --no-confirm-changeset --no-fail-on-empty-changeset --no-progressbar
  )
  if [[ -n "$PARAMETER_OVERRIDES" ]]; then
    args+=(--parameter-overrides "$PARAMETER_OVERRIDES")
  fi
  log "sam deploy --stack-name $STACK_NAME -> $ENDPOINT"
  (cd "$ROOT" && "$SAM" "${args[@]}" >&2) || die "sam deploy failed"
  t2=$(date +%s)
  log "build $((t1 - t0))s, deploy $((t2 - t1))s"
  py_aws outputs
}

cmd_delete() {
  cmd_venvs
  ms_ready || die "MiniStack is not running"
  write_samconfig
  aws_env
  (cd "$ROOT" && "$SAM" delete --config-file "$STATE/samconfig.toml" --stack-name "$STACK_NAME" \
    --region "$REGION" --no-prompts >&2)
}

need_running() {
  [[ -x "$MS_PY" ]] || die "no $MS_VENV: run '$0 venvs'"
  ms_ready || die "MiniStack is not running on $ENDPOINT: run '$0 start'"
}

main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    venvs) cmd_venvs ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    deploy) cmd_deploy ;;
    delete) cmd_delete ;;
    outputs) need_running; py_aws outputs ;;
    info) need_running; py_aws info ;;
    logs) need_running; py_aws logs "$@" ;;
    *)
      sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
      exit 2
      ;;
  esac
}

main "$@"
