#!/usr/bin/env bash
# Forwarding cost in a 3-node cluster on this machine: the same
# GET of one order through its owner (local) and through another node
# (forwarded over CAF), with 64 connections and with 1 (the added latency
# of one hop), then creates spread over every node's partitions, and the
# same creates on a single node. Prints one table. Needs wrk.
# Usage: bench/cluster.sh [DURATION] (default 10s).
set -euo pipefail
cd "$(dirname "$0")/.."
dur="${1:-10s}"
bin=build/ordo
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null; rm -rf "$dir"' EXIT
peers="a=127.0.0.1:7201,b=127.0.0.1:7202,c=127.0.0.1:7203"
export ORDO_ADMIN_TOKEN=bench ORDO_PAYMENT_SECRET=bench
port=8201
for id in a b c; do
  "$bin" serve --node-id "$id" --peers "$peers" --data "$dir/$id" \
    --http "127.0.0.1:$port" --durability sync --rate-limit off \
    --captcha-after 0 2> "$dir/$id.log" > /dev/null &
  pids+=($!)
  port=$((port + 1))
done
up() {
  curl -sf -H "Authorization: Bearer bench" "localhost:$1/v1/admin/cluster" \
    | python3 -c 'import json,sys; sys.exit(0 if all(p["reachable"] for p in json.load(sys.stdin)["peers"]) else 1)'
}
for p in 8201 8202 8203; do
  until up "$p" 2> /dev/null; do sleep 0.2; done
done
curl -sf -X PUT -H "Authorization: Bearer bench" localhost:8201/v1/skus/A \
  -d '{"stock":1000000000,"price":100,"kind":"goods"}' > /dev/null
# An order whose owner is a: try users until a says it is local.
owner_of() {
  curl -s -H "Authorization: Bearer bench" localhost:8201/v1/admin/cluster \
    | python3 -c "import json,sys; print(json.load(sys.stdin)['partition_map'][int('$1'[1:5],16)])"
}
for i in $(seq 1 100); do
  id=$(curl -s -X POST -H "Idempotency-Key: b$i" localhost:8201/v1/orders \
    -d "{\"user_id\":\"bench-$i\",\"items\":[{\"sku\":\"A\",\"quantity\":1}]}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["order_id"])')
  [ "$(owner_of "$id")" = a ] && break
done
run() { # label port connections [script]
  local out
  if [ -n "${4:-}" ]; then
    out=$(wrk -t2 -c"$3" -d"$dur" --latency -s "$4" "http://127.0.0.1:$2")
  else
    out=$(wrk -t"$([ "$3" = 1 ] && echo 1 || echo 2)" -c"$3" -d"$dur" --latency \
      "http://127.0.0.1:$2/v1/orders/$id")
  fi
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<< "$out")
  p50=$(awk '$1 == "50%" {print $2}' <<< "$out")
  p99=$(awk '$1 == "99%" {print $2}' <<< "$out")
  errors=$(awk '/Non-2xx/ {print $NF}' <<< "$out")
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$3" "$rps" "$p50" "$p99" \
    "${errors:-0}"
}
echo "| request | connections | req/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|---|"
run "GET order, local (owner a)" 8201 64
run "GET order, forwarded (b -> a)" 8202 64
run "GET order, local (owner a)" 8201 1
run "GET order, forwarded (b -> a)" 8202 1
ORDO_BENCH_USERS=997 run "create, 3 nodes, via a (2/3 forwarded)" 8201 64 \
  bench/create.lua
# The same creates on one node alone, back to back.
kill "${pids[@]}"
wait 2> /dev/null || true
pids=()
"$bin" serve --data "$dir/single" --http 127.0.0.1:8209 --durability sync \
  --rate-limit off --captcha-after 0 2> "$dir/single.log" > /dev/null &
pids+=($!)
until curl -sf localhost:8209/readyz > /dev/null 2>&1; do sleep 0.2; done
curl -sf -X PUT -H "Authorization: Bearer bench" localhost:8209/v1/skus/A \
  -d '{"stock":1000000000,"price":100,"kind":"goods"}' > /dev/null
ORDO_BENCH_USERS=997 run "create, 1 node" 8209 64 bench/create.lua
