#!/usr/bin/env bash
# Benchmark of the example services on 127.0.0.1, with moto as SQS.
#
#   services/bench.sh            # release build, wrk 10 s per run
#   DURATION=5s CONNS=16 services/bench.sh
#
# Measures:
#   1. sampleapi GET /health: requests/s and p99 (wrk, CONNS connections);
#   2. sampleapi POST /api/tasks (one SQS SendMessage each): requests/s, p99;
#   3. moto alone answering the same SendMessage (wrk straight at moto), at the
#      same concurrency and on one connection, to show how much of a POST is
#      moto's time;
#   4. sampleworker messages/s draining N_MESSAGES with batched receives
#      (SQS_MAX_MESSAGES=10) versus one message per receive (=1), with the
#      simulated send at 0 ms so the SQS round trips are what is measured.
#
# Everything binds to 127.0.0.1, every load run is bounded in time, and every
# process started here is stopped by its PID on exit. Needs: cargo, python3,
# curl, wrk (installed with apt-get when missing), moto (a venv is made under
# .testbed/bench when MOTO_URL is not given).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_DIR:-$ROOT/.testbed/bench}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
MOTO_PORT=${MOTO_PORT:-5390}
API_PORT=${API_PORT:-18089}
WORKER_PORT=${WORKER_PORT:-19099}
# moto scans the whole queue on every receive (several seconds per call with a
# backlog of 2000 on a loaded 2-core machine), so keep the backlog small: the
# point is batched versus single receives, not moto's scaling.
N_MESSAGES=${N_MESSAGES:-300}
PARTS=${PARTS:-api worker} # which parts to run
WORKER_CONCURRENCY=${WORKER_CONCURRENCY:-20}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
mkdir -p "$WORK"

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

log() { printf '== %s\n' "$*" >&2; }

if ! command -v wrk >/dev/null; then
  log "installing wrk"
  apt-get install -y --no-install-recommends wrk >/dev/null
fi

if [ -z "${MOTO_URL:-}" ]; then
  MOTO_SERVER=${MOTO_SERVER:-$WORK/venv/bin/moto_server}
  if [ ! -x "$MOTO_SERVER" ]; then
    log "installing moto into $WORK/venv"
    python3 -m venv "$WORK/venv"
    "$WORK/venv/bin/pip" install -q 'moto[server]==5.2.5'
    MOTO_SERVER=$WORK/venv/bin/moto_server
  fi
  "$MOTO_SERVER" -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
  MOTO_PID=$!
  PIDS+=("$MOTO_PID")
  MOTO_URL=http://127.0.0.1:$MOTO_PORT
  for _ in $(seq 100); do
    curl -fs "$MOTO_URL/moto-api/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  # Not someone else's server on the same port.
  kill -0 "$MOTO_PID" 2>/dev/null || { echo "moto could not start on port $MOTO_PORT (in use?); set MOTO_PORT" >&2; exit 1; }
fi
log "moto at $MOTO_URL"

log "building release binaries"
cargo build --release -q -p sampleapi -p sampleworker
BIN=$TARGET/release

# One SQS JSON-protocol call to moto (the protocol aws-sdk-sqs speaks). moto
# routes a request to a service by the credential scope of its Authorization
# header (it does not check the signature): without one it would answer as S3.
AUTH='AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=content-type;host;x-amz-target, Signature=0'
sqs() {
  curl -fsS -H "Authorization: $AUTH" -H 'Content-Type: application/x-amz-json-1.0' \
    -H "X-Amz-Target: AmazonSQS.$1" --data-binary "$2" "$MOTO_URL/"
}
json_get() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
new_queue() { sqs CreateQueue "{\"QueueName\":\"$1-$$-$(date +%s%N)\"}" | json_get QueueUrl; }

# wrk summary: "<requests/s> <p50> <p99> <non-2xx>".
wrk_summary() {
  python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rps = re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)
pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errs = re.search(r"Socket errors:.*", text)
print(rps, pct.get("50", "?"), pct.get("99", "?"), bad.group(1) if bad else 0,
      "|", errs.group(0) if errs else "no socket errors")
PY
}

run_wrk() { # name, connections, threads, script-or-empty, url
  local name=$1 c=$2 t=$3 script=$4 url=$5 out
  out=$WORK/wrk-$(printf '%s' "$1" | tr -c 'A-Za-z0-9' '_').txt
  local args=(-t"$t" -c"$c" -d"$DURATION" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  wrk "${args[@]}" "$url" >"$out"
  printf '%-28s %s\n' "$name" "$(wrk_summary "$out")"
}

API_QUEUE=$(new_queue bench-api)
MOTO_QUEUE=$(new_queue bench-moto)

SQS_QUEUE_URL=$API_QUEUE AWS_REGION=us-east-1 AWS_ENDPOINT_URL=$MOTO_URL \
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test PORT=$API_PORT LOG_LEVEL=info \
  "$BIN/sampleapi" >"$WORK/sampleapi.log" 2>&1 &
API_PID=$!
PIDS+=("$API_PID")
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$API_PORT/health" >/dev/null 2>&1 && break
  sleep 0.1
done
kill -0 "$API_PID" 2>/dev/null || { echo "sampleapi did not start on port $API_PORT (in use?); set API_PORT" >&2; exit 1; }

TASK='{"type":"email","to":"bench@example.com","subject":"Benchmark","body":"Hello from wrk"}'
cat >"$WORK/post.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$TASK'
EOF
MOTO_BODY=$(python3 -c 'import json,sys; print(json.dumps({"QueueUrl": sys.argv[1], "MessageBody": sys.argv[2]}))' "$MOTO_QUEUE" "$TASK")
cat >"$WORK/moto.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "AmazonSQS.SendMessage"
wrk.headers["Authorization"] = "$AUTH"
wrk.body = [[$MOTO_BODY]]
EOF

if [[ " $PARTS " == *" api "* ]]; then
{
  echo "# sampleapi / moto, $(nproc) cores, wrk -t$THREADS -c$CONNS -d$DURATION (1-connection runs: -t1 -c1)"
  printf '%-28s %s\n' "run" "req/s p50 p99 non-2xx | socket errors"
  run_wrk "GET /health" "$CONNS" "$THREADS" "" "http://127.0.0.1:$API_PORT/health"
  run_wrk "POST /api/tasks" "$CONNS" "$THREADS" "$WORK/post.lua" "http://127.0.0.1:$API_PORT/api/tasks"
  run_wrk "moto SendMessage" "$CONNS" "$THREADS" "$WORK/moto.lua" "$MOTO_URL/"
  run_wrk "POST /api/tasks (1 conn)" 1 1 "$WORK/post.lua" "http://127.0.0.1:$API_PORT/api/tasks"
  run_wrk "moto SendMessage (1 conn)" 1 1 "$WORK/moto.lua" "$MOTO_URL/"
} | tee "$WORK/results.txt"
fi

# Worker throughput: fill a queue, time the drain.
worker_run() { # max messages per receive
  local max=$1 queue
  queue=$(new_queue "bench-worker-$max")
  python3 - "$MOTO_URL" "$queue" "$N_MESSAGES" "$AUTH" <<'PY'
import json, sys, urllib.request
url, queue, n, auth = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
for start in range(0, n, 10):
    entries = [{"Id": str(i), "MessageBody": json.dumps({"type": "email", "to": f"w{start+i}@example.com", "subject": "s", "body": "b"})}
               for i in range(min(10, n - start))]
    req = urllib.request.Request(url + "/", data=json.dumps({"QueueUrl": queue, "Entries": entries}).encode(),
        headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.SendMessageBatch", "Authorization": auth})
    urllib.request.urlopen(req).read()
PY
  local started
  started=$(python3 -c 'import time; print(time.time())')
  SQS_QUEUE_URL=$queue AWS_REGION=us-east-1 AWS_ENDPOINT_URL=$MOTO_URL \
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test METRICS_PORT=$WORKER_PORT \
    LOG_LEVEL=warn EMAIL_SEND_DURATION_MS=0 WORKER_CONCURRENCY=$WORKER_CONCURRENCY \
    SQS_MAX_MESSAGES=$max SQS_WAIT_TIME_SECONDS=1 \
    "$BIN/sampleworker" >"$WORK/sampleworker-$max.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  python3 - "http://127.0.0.1:$WORKER_PORT/metrics" "$N_MESSAGES" "$max" "$started" <<'PY'
import sys, time, urllib.request
url, n, maxm = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# Wall clock from just before the worker was launched.
start = time.monotonic() - (time.time() - float(sys.argv[4]))
def sent():
    try:
        text = urllib.request.urlopen(url, timeout=2).read().decode()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith('emails_sent_total{status="success"}'):
            return float(line.split()[-1])
    return 0
done = 0
while time.monotonic() - start < 120:
    done = sent()
    if done >= n:
        break
    time.sleep(0.01)
elapsed = time.monotonic() - start
print(f"worker SQS_MAX_MESSAGES={maxm:<3} {int(done)}/{n} messages in {elapsed:.2f} s = {done/elapsed:.0f} messages/s")
PY
  kill -TERM "$pid"
  wait "$pid" || true
}
if [[ " $PARTS " == *" worker "* ]]; then
{
  echo "# sampleworker, WORKER_CONCURRENCY=$WORKER_CONCURRENCY, EMAIL_SEND_DURATION_MS=0, N=$N_MESSAGES (time includes start-up)"
  worker_run 10
  worker_run 1
} | tee -a "$WORK/results.txt"
fi
log "results in $WORK/results.txt"
