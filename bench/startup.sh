#!/usr/bin/env bash
# Start-up and memory of a node over a large stored history: seeds ORDERS
# stored orders once (build/bench/seed_store, cached in
# /tmp/ordo-bench-startup-$ORDERS and reused), then RUNS times copies the
# cached data dir fresh and starts `ordo serve` on the copy, measuring the
# wall time from exec to the first 200 of GET /readyz (polled every 5 ms)
# and VmRSS / VmHWM from /proc/PID/status at that moment. After the last
# start-up it activates ACTIVATE stored terminal orders without changing
# them and reads the resident memory again:
#   1. GET /v1/orders/ID for each (reads the snapshot, activates nothing):
#      warms RocksDB's block cache (capped at 64 MB) and the gateway, so
#   2. POST /v1/orders/ID/cancel for the same orders (each order actor is
#      activated and loads its state; a cancelled order is returned
#      unchanged, a paid or completed one refused with 409, neither writes)
#      grows RSS by what the resident actors hold: bytes per resident order
#      actor = ΔRSS(2) / active actors (ordo_actors_active{kind="order"});
#      the "raw" figure counts from ready (block cache fill included).
# Then one on-demand audit (GET /v1/admin/audit): its time and VmHWM after
# it (the scheduled audit, every --audit-interval, does the same work).
#
#   bench/startup.sh                                  # 1,000,000 orders
#   ORDERS=100000 bench/startup.sh                    # how it scales
#   ORDERS=100000 ACTIVATE=20000 RUNS=5 bench/startup.sh
#   ACTIVATE=0 AUDIT=off bench/startup.sh              # start-up alone
#   SEED_FLAGS=--side-effects bench/startup.sh        # + sandbox/SMS records
#   SERVE_FLAGS="--scheduler-threads 1" bench/startup.sh
#   PARALLEL=32 AUDIT=off bench/startup.sh
#
# Needs build/ordo and build/bench/seed_store (scripts/build --target ordo
# seed_store; ORDO and SEED name others) and curl >= 7.66 (--parallel).
# The page cache is warm (the copy was just written): a cold start reads
# the data dir from disk on top of this. Exit: 0, or 1 when a step failed
# (its node log is kept and named).
set -euo pipefail
cd "$(dirname "$0")/.."

ORDO=${ORDO:-build/ordo}
SEED=${SEED:-build/bench/seed_store}
ORDERS=${ORDERS:-1000000}
ACTIVATE=${ACTIVATE:-100000}
RUNS=${RUNS:-3}
PARALLEL=${PARALLEL:-64}
AUDIT=${AUDIT:-on}
SEED_FLAGS=${SEED_FLAGS:-}
SERVE_FLAGS=${SERVE_FLAGS:-}
token=bench-admin-token

for tool in "$ORDO" "$SEED"; do
  if [ ! -x "$tool" ]; then
    echo "bench/startup.sh: $tool not found; run scripts/build --target ordo seed_store" >&2
    exit 1
  fi
done

# The seeded dir, once per ORDERS and SEED_FLAGS; written to a temp name
# and renamed, so an interrupted seed is never reused.
cache=/tmp/ordo-bench-startup-$ORDERS
if [ -n "$SEED_FLAGS" ]; then
  cache+=-$(printf %s "$SEED_FLAGS" | tr -c 'a-zA-Z0-9\n' _ | sed 's/^_*//')
fi
if [ ! -f "$cache/ids" ]; then
  rm -rf "$cache.tmp"
  mkdir -p "$cache.tmp"
  echo "bench/startup.sh: seeding $ORDERS orders into $cache" >&2
  # shellcheck disable=SC2086 # SEED_FLAGS is a list of flags
  "$SEED" --data "$cache.tmp/db" --orders "$ORDERS" --ids "$cache.tmp/ids" \
    $SEED_FLAGS >"$cache.tmp/seed.out"
  cat "$cache.tmp/seed.out" >&2
  rm -rf "$cache"
  mv "$cache.tmp" "$cache"
fi

work=$(mktemp -d /tmp/ordo-bench-startup-run.XXXXXX)
server_pid=
stop_server() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}
cleanup() {
  stop_server
  rm -rf "$work/db"
}
trap cleanup EXIT

now_us() {
  local t=${EPOCHREALTIME/./}
  echo "$t"
}
# kB of field $1 (VmRSS, VmHWM) of the server.
status_kb() {
  awk -v f="$1:" '$1 == f { print $2 }' "/proc/$server_pid/status"
}
mb() {
  awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'
}
fail() {
  echo "bench/startup.sh: $*; node log kept in $work/serve.log" >&2
  trap - EXIT
  stop_server
  rm -rf "$work/db"
  exit 1
}

# Starts a node on a fresh copy; sets url, ready_ms, rss_kb, hwm_kb.
start_node() {
  stop_server
  rm -rf "$work/db"
  cp -a "$cache/db" "$work/db"
  sync
  local t0 t1 code=
  t0=$(now_us)
  # shellcheck disable=SC2086 # SERVE_FLAGS is a list of flags
  "$ORDO" serve --data "$work/db" --http 127.0.0.1:0 --admin-token "$token" \
    --passivate-after 10m $SERVE_FLAGS >"$work/serve.out" 2>"$work/serve.log" &
  server_pid=$!
  url=
  # The gateway listens once the node is ready; poll both every 5 ms.
  for _ in $(seq 12000); do
    if [ -z "$url" ]; then
      url=$(sed -n 's/^ordo listening on //p' "$work/serve.out")
    fi
    if [ -n "$url" ]; then
      code=$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz" || true)
      if [ "$code" = 200 ]; then
        break
      fi
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      fail "ordo serve exited during start-up"
    fi
    sleep 0.005
  done
  t1=$(now_us)
  [ "$code" = 200 ] || fail "no 200 from /readyz within 60 s"
  ready_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) / 1000 }')
  rss_kb=$(status_kb VmRSS)
  hwm_kb=$(status_kb VmHWM)
}

# curl --parallel over the first $k ids: $1 = GET or POST, $2 = path after
# the id. Prints the status codes seen, "code xN ...".
each_order() {
  local method=$1 suffix=$2 cfg=$work/curl.cfg
  {
    if [ "$method" = POST ]; then
      echo 'request = "POST"'
      echo 'data = ""'
    fi
    head -n "$k" "$cache/ids" | sed "s|.*|url = \"$url/v1/orders/&$suffix\"\noutput = \"/dev/null\"|"
  } >"$cfg"
  curl -s --no-progress-meter --parallel --parallel-immediate \
    --parallel-max "$PARALLEL" -w '%{http_code}\n' -K "$cfg" 2>>"$work/curl.err" |
    sort | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? " " : ""), $2, $1 }'
  echo
}

metric() {
  curl -s -H "Authorization: Bearer $token" "$url/metrics" |
    awk -v m="$1" '$1 == m { print $2 }'
}

ready=()
for run in $(seq "$RUNS"); do
  start_node
  ready+=("$ready_ms")
  echo "bench/startup.sh: run $run: ready in $ready_ms ms, VmRSS $(mb "$rss_kb") MB, VmHWM $(mb "$hwm_kb") MB" >&2
done
ready_sorted=$(printf '%s\n' "${ready[@]}" | sort -n | tr '\n' ' ')
median=$(printf '%s\n' "${ready[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')

# Activation, on the last run's node (ACTIVATE=0: start-up only).
total_ids=$(wc -l <"$cache/ids")
k=$((ACTIVATE < total_ids ? ACTIVATE : total_ids))
active=- read_mb=- act_mb=- per_actor=- per_actor_raw=-
reads=- cancels=- read_rate=- cancel_rate=-
if [ "$k" -gt 0 ]; then
  t0=$(now_us)
  reads=$(each_order GET "")
  t1=$(now_us)
  read_kb=$(status_kb VmRSS)
  cancels=$(each_order POST /cancel)
  t2=$(now_us)
  act_kb=$(status_kb VmRSS)
  act_hwm_kb=$(status_kb VmHWM)
  active=$(metric 'ordo_actors_active{kind="order"}')
  if [ -z "$active" ] || [ "$active" -eq 0 ]; then
    fail "no active order actors after the cancels ($cancels)"
  fi
  per_actor=$(awk -v a="$act_kb" -v b="$read_kb" -v n="$active" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
  per_actor_raw=$(awk -v a="$act_kb" -v b="$rss_kb" -v n="$active" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
  rate() {
    awk -v n="$k" -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", n / ((b - a) / 1e6) }'
  }
  read_rate=$(rate "$t0" "$t1")
  cancel_rate=$(rate "$t1" "$t2")
  read_mb=$(mb "$read_kb")
  act_mb="$(mb "$act_kb")/$(mb "$act_hwm_kb")"
fi

audit_s=- audit_hwm=- audit_rss=-
if [ "$AUDIT" != off ]; then
  t0=$(now_us)
  curl -s -o "$work/audit.json" -H "Authorization: Bearer $token" \
    "$url/v1/admin/audit"
  t1=$(now_us)
  audit_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
  audit_hwm=$(mb "$(status_kb VmHWM)")
  audit_rss=$(mb "$(status_kb VmRSS)")
  if command -v jq >/dev/null && [ "$(jq -r .ok "$work/audit.json")" != true ]; then
    echo "bench/startup.sh: the audit found violations (see $work/audit.json)" >&2
  fi
fi
stop_server

echo
echo "ordo start-up, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, commit" \
  "$(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(du -sm "$cache/db" | cut -f1) MB data dir" \
  "${SEED_FLAGS:+($SEED_FLAGS) }"
echo "ordo serve --passivate-after 10m ${SERVE_FLAGS}; page cache warm; ready = exec to first 200 from /readyz"
printf '%-9s %-6s %-22s %-14s %-8s %-10s %-10s %-9s %-9s %-10s %-12s\n' \
  orders ready ready_runs_ms rss/hwm_MB active rss_read rss_act B/actor B/raw audit_s audit_rss/hwm
printf '%-9s %-6s %-22s %-14s %-8s %-10s %-10s %-9s %-9s %-10s %-12s\n' \
  "$ORDERS" "$median" "$(echo "$ready_sorted" | xargs | tr ' ' ,)" \
  "$(mb "$rss_kb")/$(mb "$hwm_kb")" "$active" "$read_mb" \
  "$act_mb" "$per_actor" "$per_actor_raw" \
  "$audit_s" "$audit_rss/$audit_hwm"
echo "reads ($k GETs, $read_rate/s): $reads; cancels ($k POSTs, $cancel_rate/s): $cancels"
rm -rf "$work"
