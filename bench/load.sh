#!/usr/bin/env bash
# Load benchmark: the home page, a listing, a product page and /healthz of one release build of
# `jinguo serve`, 64 connections each, on SQLite and (when JINGUO_BENCH_POSTGRES_URL or
# JINGUO_TEST_POSTGRES_URL names a server) on PostgreSQL. Prints requests/s and p99 latency for
# each URL and each page's requests/s as a share of /healthz's, measured in the same run: once as
# served (catalog reads and rendered pages reused for 2 s), once with caching off
# (JINGUO_CACHE_TTL_MS=0), which is what every request would cost without it.
#
#   bash bench/load.sh              # needs wrk (Debian: apt-get install wrk)
#   DURATION=30s bash bench/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
PG_URL="${JINGUO_BENCH_POSTGRES_URL:-${JINGUO_TEST_POSTGRES_URL:-}}"

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
cargo build --release --quiet --bin jinguo
BIN=target/release/jinguo

work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# Starts the server on the given database and waits for its address.
start() {
  local db_url=$1 log=$work/serve.log
  JINGUO_CACHE_TTL_MS=$3 JINGUO_LOG=warn "$BIN" serve --demo --listen 127.0.0.1:0 --data-dir "$work/data-$2" \
    --database-url "$db_url" >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 600); do
    addr=$(sed -n 's/^jinguo: serving on //p' "$log")
    [ -n "$addr" ] && return 0
    sleep 0.2
  done
  echo "server did not start:" >&2; cat "$log" >&2; exit 1
}

stop() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; }

# wrk's summary → "rps p99_ms"
measure() {
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$1")
  local rps p99 errors
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
  [ -n "$errors" ] && echo "    (wrk: $errors)" >&2
  echo "$rps $p99"
}

to_ms() { # 1.23ms / 850.00us / 1.20s → milliseconds
  awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /s$/) n*=1000; printf "%.2f", n }'
}

measure_all() { # ttl → fills rps[] and p99[] for each page
  local ttl=$1
  start "$url" "$name" "$ttl"
  wrk -t1 -c8 -d2s "$addr/" >/dev/null   # warm up
  for path in "${pages[@]}"; do
    read -r r p < <(measure "$addr$path")
    rps[$ttl$path]=$r; p99[$ttl$path]=$(to_ms "$p")
  done
  stop
}

run_backend() {
  name=$1 url=$2
  declare -gA rps p99
  pages=("/healthz" "/" "/products" "/products/chengkou-larou-500g")
  measure_all 2000
  measure_all 0
  printf '\n%s (%s connections, %s each, %s cores)\n' "$name" "$CONNECTIONS" "$DURATION" "$(nproc)"
  printf '  %-32s | %8s %8s %6s | %8s %8s %6s\n' "" "cached" "" "" "no cache" "" ""
  printf '  %-32s | %8s %8s %6s | %8s %8s %6s\n' "path" "req/s" "p99 ms" "/hz" "req/s" "p99 ms" "/hz"
  for path in "${pages[@]}"; do
    local line=""
    for ttl in 2000 0; do
      ratio=$(awk -v a="${rps[$ttl$path]}" -v b="${rps[$ttl/healthz]}" 'BEGIN { printf "%.0f%%", 100*a/b }')
      line+=$(printf ' | %8.0f %8s %6s' "${rps[$ttl$path]}" "${p99[$ttl$path]}" "$ratio")
    done
    printf '  %-32s%s\n' "$path" "$line"
  done
}

run_backend SQLite "sqlite://$work/bench.db"
if [ -n "$PG_URL" ]; then
  db="jinguo_bench_$$"
  psql "$PG_URL" -qc "create database $db" >/dev/null
  pg_db_url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$PG_URL" "$db")
  run_backend PostgreSQL "$pg_db_url"
  psql "$PG_URL" -qc "drop database $db with (force)" >/dev/null
else
  echo "(PostgreSQL skipped: set JINGUO_BENCH_POSTGRES_URL or JINGUO_TEST_POSTGRES_URL)"
fi
