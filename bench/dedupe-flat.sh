#!/usr/bin/env bash
# Does the dedupe column family stay flat under a long load?
# Starts `ordo serve` on a fresh temp dir with a short
# --dedupe-retention, runs `ordo load` against it for DURATION, and samples
# ordo_storage_dedupe_bytes (and the turns committed) from /metrics every
# INTERVAL seconds. Prints one table: while the load runs, the family should
# grow for about one to two retentions (ids are dropped by compaction once
# older than the retention, and each table file is compacted at least once
# per retention) and then hold level, while the turns keep climbing.
#
#   bench/dedupe-flat.sh                           # 8 min, 2m retention, 400/s
#   DURATION=20m RETENTION=5m bench/dedupe-flat.sh
#   RATE= CONNECTIONS=64 bench/dedupe-flat.sh      # closed loop, flat out
#   SERVE_FLAGS="--durability async" bench/dedupe-flat.sh
#
# Needs build/ordo (scripts/build --target ordo) and curl. Exit: 0 when the
# load's own consistency check passed, 1 otherwise (the temp dir with the
# node log and the load's output is kept then).
set -euo pipefail
cd "$(dirname "$0")/.."

ORDO=${ORDO:-build/ordo}
DURATION=${DURATION:-8m}
RETENTION=${RETENTION:-2m}
INTERVAL=${INTERVAL:-30}
WORKLOAD=${WORKLOAD:-steady}
CONNECTIONS=${CONNECTIONS:-32}
RATE=${RATE-400}
SERVE_FLAGS=${SERVE_FLAGS:-}
token=bench-admin-token
secret=bench-payment-secret

if [ ! -x "$ORDO" ]; then
  echo "bench/dedupe-flat.sh: $ORDO not found; run scripts/build --target ordo" >&2
  exit 1
fi

dir=$(mktemp -d /tmp/ordo-bench-dedupe.XXXXXX)
server_pid=
load_pid=
cleanup() {
  for pid in "$load_pid" "$server_pid"; do
    if [ -n "$pid" ]; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
}
trap cleanup EXIT

# shellcheck disable=SC2086 # SERVE_FLAGS is a list of flags
"$ORDO" serve --data "$dir/db" --http 127.0.0.1:0 --admin-token "$token" \
  --payment-secret "$secret" --dedupe-retention "$RETENTION" $SERVE_FLAGS \
  >"$dir/serve.out" 2>"$dir/serve.log" &
server_pid=$!
url=
for _ in $(seq 300); do
  url=$(sed -n 's/^ordo listening on //p' "$dir/serve.out")
  if [ -n "$url" ] || ! kill -0 "$server_pid" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "bench/dedupe-flat.sh: ordo serve did not start; see $dir/serve.log" >&2
  exit 1
fi

args=(load --url "$url" --admin-token "$token" --payment-secret "$secret"
  --workload "$WORKLOAD" --duration "$DURATION" --warmup 0s
  --connections "$CONNECTIONS" --json "$dir/load.json")
if [ -n "$RATE" ]; then
  args+=(--rate "$RATE")
fi
"$ORDO" "${args[@]}" >"$dir/load.out" 2>"$dir/load.err" &
load_pid=$!

metric() { # NAME: its value in the last sample
  awk -v m="$1" '$1 == m { printf "%d", $2 }' "$dir/metrics"
}
sample() { # ELAPSED_S
  curl -sf "$url/metrics" >"$dir/metrics" || return 0
  local bytes batches
  bytes=$(metric ordo_storage_dedupe_bytes)
  batches=$(metric ordo_batches_total)
  rows+=("$(printf '%6s %14s %10.2f %14s' "$1" "$bytes" \
    "$(awk -v b="$bytes" 'BEGIN { print b / 1048576 }')" "$batches")")
}

rows=()
start=$(date +%s)
sample 0
# A sampler, not a synchronisation: one look every INTERVAL seconds.
while kill -0 "$load_pid" 2>/dev/null; do
  sleep "$INTERVAL"
  sample $(($(date +%s) - start))
done
rc=0
wait "$load_pid" || rc=$?
load_pid=

mode="closed loop, $CONNECTIONS connections"
if [ -n "$RATE" ]; then
  mode="open loop at $RATE flows/s over $CONNECTIONS connections"
fi
echo "ordo_storage_dedupe_bytes under ordo load --workload $WORKLOAD," \
  "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, commit" \
  "$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "ordo serve --dedupe-retention $RETENTION ${SERVE_FLAGS}; $mode for" \
  "$DURATION; one sample every ${INTERVAL} s"
printf '%6s %14s %10s %14s\n' t_s dedupe_bytes dedupe_MiB batches_total
for r in "${rows[@]}"; do
  echo "$r"
done
grep -E '^(flows|check|  create|  pay|  cancel)' "$dir/load.out" || true
if [ "$rc" -ne 0 ]; then
  echo "bench/dedupe-flat.sh: ordo load exited $rc; kept $dir" >&2
  exit 1
fi
cleanup
server_pid=
rm -rf "$dir"
