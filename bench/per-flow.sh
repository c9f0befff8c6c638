#!/usr/bin/env bash
# What one flow costs the node: `ordo load` against a fresh
# `ordo serve --durability sync`, and the node's own counters and CPU time
# over the measured window, divided by the flows of that window.
#
#   bench/per-flow.sh                          # steady, 8 s
#   WORKLOAD=flash-cancel DURATION=20s bench/per-flow.sh
#   ORDO=/tmp/ordo-old bench/per-flow.sh       # another binary (A/B)
#   SERVE_ARGS="--notify-delay 1s" bench/per-flow.sh
#                      # whole lives: the admin SMS's turns inside the window
#
# Prints flows/s, node CPU µs per flow (utime + stime from /proc/PID/stat),
# and per flow: committed batches, records (puts and deletes), WAL writes
# and fsyncs, from /metrics (n/a where the binary has no such counter).
# Needs build/ordo, curl, jq.
set -euo pipefail
cd "$(dirname "$0")/.."

ORDO=${ORDO:-build/ordo}
WORKLOAD=${WORKLOAD:-steady}
DURATION=${DURATION:-8s}
CONNECTIONS=${CONNECTIONS:-64}
token=bench-admin-token
secret=bench-payment-secret

dir=$(mktemp -d /tmp/ordo-per-flow.XXXXXX)
# shellcheck disable=SC2086 # SERVE_ARGS is a list of flags
"$ORDO" serve --data "$dir/db" --http 127.0.0.1:0 --admin-token "$token" \
  --payment-secret "$secret" --durability sync ${SERVE_ARGS:-} \
  >"$dir/serve.out" 2>"$dir/serve.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
url=
for _ in $(seq 300); do
  url=$(sed -n 's/^ordo listening on //p' "$dir/serve.out")
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || { echo "per-flow.sh: the node did not start" >&2; exit 1; }

counters() {
  curl -s -H "Authorization: Bearer $token" "$url/metrics" | awk '
    $1 == "ordo_batches_total" {b = $2} $1 == "ordo_records_total" {r = $2}
    $1 == "ordo_commits_total" {c = $2} $1 == "ordo_wal_syncs_total" {s = $2}
    END {print (b == "" ? "-" : b), (r == "" ? "-" : r),
               (c == "" ? "-" : c), (s == "" ? "-" : s)}'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
load() {
  "$ORDO" load --url "$url" --admin-token "$token" --payment-secret "$secret" \
    --workload "$WORKLOAD" --connections "$CONNECTIONS" --warmup 0s \
    --no-check "$@" >/dev/null
}

load --duration 2s # warm up: actors, memtables, connections
read -r b0 r0 c0 s0 < <(counters)
t0=$(cpu_ticks)
load --duration "$DURATION" --json "$dir/load.json"
t1=$(cpu_ticks)
read -r b1 r1 c1 s1 < <(counters)

python3 - "$dir/load.json" "$(getconf CLK_TCK)" "$t0" "$t1" \
  "$b0" "$b1" "$r0" "$r1" "$c0" "$c1" "$s0" "$s1" <<'EOF'
import json, sys
summary = json.load(open(sys.argv[1]))
hz, t0, t1 = (float(x) for x in sys.argv[2:5])
flow = summary["operations"]["flow"]
flows = flow["count"]
secs = summary.get("duration_s") or summary.get("seconds")
def per(a, b):
    return "n/a" if "-" in (a, b) else f"{(float(b) - float(a)) / flows:.2f}"
b0, b1, r0, r1, c0, c1, s0, s1 = sys.argv[5:13]
print(f"flows {flows}" + (f" ({flows / float(secs):.0f}/s)" if secs else ""))
print(f"node CPU per flow: {(t1 - t0) / hz * 1e6 / flows:.0f} us")
print(f"per flow: batches {per(b0, b1)}, records {per(r0, r1)}, "
      f"WAL writes {per(c0, c1)}, fsyncs {per(s0, s1)}")
EOF
