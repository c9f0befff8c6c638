#!/usr/bin/env bash
# `ordo load` against a fresh node, once per workload, and one table of the
# results. Each workload gets its own `ordo serve --durability sync` on a
# new temp dir (default rate limit and captcha: the generator uses a fresh
# user per order), stopped with SIGTERM afterwards. The generator runs on the
# same machine as the node.
#
#   bench/load.sh                                   # all workloads, 10 s each
#   WORKLOADS="steady hot-sku" DURATION=30s bench/load.sh
#   CONNECTIONS=128 bench/load.sh                   # closed loop, more clients
#   RATE=5000 bench/load.sh                         # open loop, 5000 flows/s
#   SERVE_FLAGS="--scheduler-threads 1" bench/load.sh
#   LOAD_FLAGS="--no-check" bench/load.sh
#   PEER=off bench/load.sh                          # without the PostgreSQL run
#   LOADER=/tmp/ordo-old bench/load.sh              # the generator of another
#                                                   # build, so that servers are
#                                                   # compared under one load
#
# Needs build/ordo (scripts/build --target ordo) and jq or python3 to read
# the JSON summaries. Exit: 0 when every check passed, 1 otherwise; the
# temp dir of a failed workload (node log, load output) is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

ORDO=${ORDO:-build/ordo}
LOADER=${LOADER:-$ORDO}
WORKLOADS=${WORKLOADS:-"steady flash-cancel race hot-sku"}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-64}
RATE=${RATE:-}
SERVE_FLAGS=${SERVE_FLAGS:-}
LOAD_FLAGS=${LOAD_FLAGS:-}
token=bench-admin-token
secret=bench-payment-secret

if [ ! -x "$ORDO" ]; then
  echo "bench/load.sh: $ORDO not found; run scripts/build --target ordo" >&2
  exit 1
fi
if command -v jq >/dev/null; then
  field() { jq -r "$2" "$1"; }
elif command -v python3 >/dev/null; then
  # A jq path like .operations.flow.latency_ms.p99 read with python3.
  field() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].lstrip(".").split("."):
    v = v[k]
print(str(v).lower() if isinstance(v, bool) else v)
EOF
  }
else
  echo "bench/load.sh: needs jq or python3 to read the JSON summaries" >&2
  exit 1
fi

server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

rows=()
failed=0
declare -A flows
for w in $WORKLOADS; do
  dir=$(mktemp -d /tmp/ordo-bench-load.XXXXXX)
  # shellcheck disable=SC2086 # SERVE_FLAGS is a list of flags
  "$ORDO" serve --data "$dir/db" --http 127.0.0.1:0 --admin-token "$token" \
    --payment-secret "$secret" --durability sync $SERVE_FLAGS \
    >"$dir/serve.out" 2>"$dir/serve.log" &
  server_pid=$!
  url=
  for _ in $(seq 300); do
    url=$(sed -n 's/^ordo listening on //p' "$dir/serve.out")
    if [ -n "$url" ]; then
      break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  if [ -z "$url" ]; then
    echo "bench/load.sh: ordo serve did not start; see $dir/serve.log" >&2
    exit 1
  fi
  echo "bench/load.sh: $w against $url ($dir)" >&2
  args=(load --url "$url" --admin-token "$token" --payment-secret "$secret"
    --workload "$w" --duration "$DURATION" --warmup "$WARMUP"
    --connections "$CONNECTIONS" --json "$dir/load.json")
  if [ -n "$RATE" ]; then
    args+=(--rate "$RATE")
  fi
  rc=0
  # shellcheck disable=SC2086 # LOAD_FLAGS is a list of flags
  "$LOADER" "${args[@]}" $LOAD_FLAGS >"$dir/load.out" 2>"$dir/load.err" || rc=$?
  cleanup
  server_pid=
  if [ ! -s "$dir/load.json" ]; then
    echo "bench/load.sh: $w: ordo load exited $rc without a summary:" >&2
    cat "$dir/load.err" >&2
    failed=1
    continue
  fi
  j=$dir/load.json
  op() { field "$j" ".operations.$1.latency_ms.$2"; }
  # Plain assignments, so that set -e stops on a field that cannot be read.
  e_create=$(field "$j" .operations.create.errors)
  e_pay=$(field "$j" .operations.pay.errors)
  e_cancel=$(field "$j" .operations.cancel.errors)
  errors=$((e_create + e_pay + e_cancel))
  check=skipped
  if [ "$(field "$j" .check.ran)" = true ]; then
    check=$([ "$(field "$j" .check.passed)" = true ] && echo passed ||
      echo FAILED)
  fi
  flows[$w]=$(field "$j" .flows_per_s)
  rows+=("$(printf '%-13s %9.0f %9.0f %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %9.2f %7s %7s  %s' \
    "$w" "${flows[$w]}" "$(field "$j" .requests_per_s)" \
    "$(op create p50)" "$(op create p99)" "$(op pay p99)" \
    "$(op cancel p99)" "$(op flow p50)" "$(op flow p99)" \
    "$(op flow p99_9)" "$errors" "$(field "$j" .missed)" "$check")")
  if [ "$rc" -ne 0 ] || [ "$check" = FAILED ]; then
    echo "bench/load.sh: $w: exit $rc, check $check; kept $dir" >&2
    sed -n '/^check:/,$p' "$dir/load.out" >&2
    failed=1
  else
    rm -rf "$dir"
  fi
done

mode="closed loop, $CONNECTIONS connections"
if [ -n "$RATE" ]; then
  mode="open loop at $RATE flows/s over $CONNECTIONS connections"
fi
echo
echo "ordo load, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, commit" \
  "$(git rev-parse --short HEAD 2>/dev/null || echo '?')," \
  "ordo serve --durability sync ${SERVE_FLAGS}"
echo "$mode, $DURATION measured after $WARMUP warm-up; latencies in ms"
printf '%-13s %9s %9s %8s %8s %8s %8s %8s %8s %9s %7s %7s  %s\n' \
  workload flows/s req/s create50 create99 pay99 cancel99 flow50 flow99 \
  flow99.9 errors missed check
for r in "${rows[@]}"; do
  echo "$r"
done
if [ -n "${flows[steady]:-}" ] && [ -n "${flows[hot-sku]:-}" ]; then
  ratio=$(awk -v h="${flows[hot-sku]}" -v s="${flows[steady]}" \
    'BEGIN { if (s > 0) printf "%.0f%%", 100 * h / s; else print "?" }')
  echo "hot-sku / steady flows: $ratio"
fi
# The PostgreSQL peer, back to back (skipped when it is not installed or
# PEER=off), and the ratio of steady flows to it.
if [ "${PEER:-on}" != off ] && [ -n "${flows[steady]:-}" ]; then
  echo
  secs=10
  [[ "$DURATION" =~ ^[0-9]+s$ ]] && secs=${DURATION%s}
  peer=$(bench/postgres.sh "$secs" 8 32)
  echo "$peer"
  best=$(awk -F'|' '/steady \(pay/ { if ($4 + 0 > b) b = $4 + 0 } END { print b + 0 }' <<< "$peer")
  if [ "$best" != 0 ]; then
    awk -v s="${flows[steady]}" -v p="$best" \
      'BEGIN { printf "ordo steady / PostgreSQL (best of 8, 32 clients): %.2fx\n", s / p }'
  fi
fi
exit "$failed"
