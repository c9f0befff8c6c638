#!/usr/bin/env bash
# The PostgreSQL peer of `ordo load --workload steady`: an order
# flow as two durable transactions, as a shop would write it with
# conditional updates: place (reserve one unit of an SKU, insert the order),
# then pay (80%) or cancel (20%) with `update ... where status='PENDING'`
# and the matching stock move; synchronous_commit=on. Runs pgbench against a
# throw-away server in a temp dir on a Unix socket and prints one table row
# per client count. Skipped (exit 0, a note) when PostgreSQL is not
# installed. Usage: bench/postgres.sh [SECONDS] [CLIENTS...] (default 10, 8 32)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
shift || true
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(8 32)
bindir=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -1 || true)
if [ -z "$bindir" ] || ! command -v pgbench > /dev/null; then
  echo "bench/postgres.sh: PostgreSQL is not installed; skipped"
  exit 0
fi
dir=$(mktemp -d)
chmod 755 "$dir"
as_pg() { # the server refuses to run as root
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" = 0 ] && chown postgres "$dir"
cleanup() {
  as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop > /dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
as_pg "$bindir/initdb" -D "$dir/data" -U bench -A trust > /dev/null
as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-k $dir -c listen_addresses='' -c synchronous_commit=on -c fsync=on -c max_connections=100 -c shared_buffers=256MB" \
  start > /dev/null
psql=(psql -h "$dir" -U bench -d postgres -q -v ON_ERROR_STOP=1)
"${psql[@]}" <<'SQL'
create table skus (id int primary key, available int not null,
                   reserved int not null, sold int not null,
                   check (available >= 0));
insert into skus select i, 1000000000, 0, 0 from generate_series(1, 16) i;
create table orders (id bigserial primary key, user_id bigint not null,
                     sku int not null, quantity int not null,
                     status text not null);
SQL
cat > "$dir/flow.sql" <<'SQL'
\set user random(1, 1000000000)
\set sku random(1, 16)
\set pay random(1, 100)
begin;
update skus set available = available - 1, reserved = reserved + 1
  where id = :sku and available >= 1;
insert into orders (user_id, sku, quantity, status)
  values (:user, :sku, 1, 'PENDING') returning id \gset
commit;
begin;
update orders set status = case when :pay <= 80 then 'PAID' else 'CANCELLED' end
  where id = :id and status = 'PENDING';
update skus set reserved = reserved - 1,
                sold = sold + case when :pay <= 80 then 1 else 0 end,
                available = available + case when :pay <= 80 then 0 else 1 end
  where id = :sku;
commit;
SQL
echo "| PostgreSQL peer | clients | flows/s | transactions/s | flow p50 | flow p99 |"
echo "|---|---|---|---|---|---|"
for c in "${clients[@]}"; do
  rm -f "$dir"/pgbench_log.*
  out=$(cd "$dir" && pgbench -h "$dir" -U bench -n -f flow.sql -c "$c" -j 2 \
    -T "$secs" -l postgres 2>&1)
  tps=$(awk '/^tps/ {print $3; exit}' <<< "$out")
  # Per-flow latency (µs) is the 3rd column of pgbench's transaction log.
  read -r p50 p99 < <(cat "$dir"/pgbench_log.* | awk '{print $3}' | sort -n \
    | awk '{a[NR] = $1} END {printf "%.2f %.2f\n", a[int(NR * 0.5)] / 1000, a[int(NR * 0.99)] / 1000}')
  printf '| steady (pay 80%%) | %s | %.0f | %.0f | %s ms | %s ms |\n' "$c" "$tps" \
    "$(awk -v t="$tps" 'BEGIN {print t * 2}')" "$p50" "$p99"
done
