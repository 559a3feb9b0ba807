#!/usr/bin/env bash
# Mixed load: browsing (home, listings, product pages, search; 32 connections) alone, then while
# BUYERS API buyers check out continuously (cart + checkout, one connection each), on one release
# build of `jinguo serve --demo`, on SQLite and (when JINGUO_BENCH_POSTGRES_URL or
# JINGUO_TEST_POSTGRES_URL names a server) on PostgreSQL. Prints browsing req/s alone and under
# orders, their ratio, and the orders placed per second.
#
#   bash bench/mixed.sh              # needs wrk (Debian: apt-get install wrk)
#   BUYERS=1 DURATION=20s bash bench/mixed.sh
#   JINGUO_BENCH_BIN=/tmp/jinguo-before bash bench/mixed.sh   # another build, same script
#   SCALE=100000 bash bench/mixed.sh  # the demo plus `jinguo seed --scale 100000` (5,000 producers)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10s}"
SCALE="${SCALE:-}"
CONNECTIONS="${CONNECTIONS:-32}"
BUYERS="${BUYERS:-4}"
PG_URL="${JINGUO_BENCH_POSTGRES_URL:-${JINGUO_TEST_POSTGRES_URL:-}}"

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
# JINGUO_BENCH_BIN: another build to measure (e.g. the one before a change), else this tree's.
if [ -n "${JINGUO_BENCH_BIN:-}" ]; then
  BIN=$JINGUO_BENCH_BIN
else
  cargo build --release --quiet --bin jinguo
  BIN=target/release/jinguo
fi

work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

start() { # database url, name
  local log=$work/serve-$2.log
  if [ -n "${SCALE:-}" ]; then
    # The demo first (the browsing mix asks for its pages), then the generated catalog.
    "$BIN" seed --demo --data-dir "$work/data-$2" --database-url "$1" >/dev/null
    "$BIN" seed --scale "$SCALE" --data-dir "$work/data-$2" --database-url "$1"
  fi
  JINGUO_LOG=warn JINGUO_PASSWORD_HASH=fast JINGUO_LOGIN_LIMIT_PER_ADDRESS=100000 \
    JINGUO_REGISTRATIONS_PER_ADDRESS=100000 \
    "$BIN" serve --demo --listen 127.0.0.1:0 --data-dir "$work/data-$2" --database-url "$1" >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 600); do
    addr=$(sed -n 's/^jinguo: serving on //p' "$log")
    [ -n "$addr" ] && return 0
    sleep 0.2
  done
  echo "server did not start:" >&2; cat "$log" >&2; exit 1
}

stop() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; }

# Buyers' tokens and the SKUs they buy (every SKU of the demo, its stock made plentiful).
prepare_buyers() {
  python3 - "$addr" "$BUYERS" <<'PY' >"$work/buyers"
import json, sys, urllib.request
base, n = sys.argv[1], int(sys.argv[2])
def call(path, body, token=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    if token: req.add_header("Authorization", "Bearer " + token)
    return json.load(urllib.request.urlopen(req))
tokens = []
for i in range(n):
    login = f"bench{i}@example.cn"
    call("/api/v1/auth/register", {"login": login, "password": "bench-password-1"})
    tokens.append(call("/api/v1/auth/token", {"login": login, "password": "bench-password-1"})["token"])
items = json.load(urllib.request.urlopen(base + "/api/v1/products?per_page=60"))["items"]
skus = []
for p in items:
    detail = json.load(urllib.request.urlopen(base + "/api/v1/products/" + p["slug"]))
    skus += [str(s["id"]) for s in detail["skus"]]
print(",".join(tokens)); print(",".join(skus))
PY
  BUYER_TOKENS=$(sed -n 1p "$work/buyers"); BUYER_SKUS=$(sed -n 2p "$work/buyers")
  export BUYER_TOKENS BUYER_SKUS
}

restock() { # database url
  case "$1" in
    sqlite://*) python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("update skus set stock = 1000000"); c.commit()' "${1#sqlite://}" ;;
    *) psql "$1" -qc "update skus set stock = 1000000" >/dev/null ;;
  esac
}

rps() { awk '/^Requests\/sec/ {print $2}'; }
orders_of() { # the database: orders placed
  case "$1" in
    sqlite://*) python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from orders").fetchone()[0])' "${1#sqlite://}" ;;
    *) psql "$1" -Atc "select count(*) from orders" ;;
  esac
}

run_backend() { # name, database url
  start "$2" "$1"
  restock "$2"
  prepare_buyers
  wrk -t2 -c8 -d2s -s bench/browse.lua "$addr" >/dev/null   # warm up
  alone=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" -s bench/browse.lua "$addr" | rps)
  before=$(orders_of "$2")
  wrk -t"$BUYERS" -c"$BUYERS" -d"$DURATION" -s bench/buy.lua "$addr" >"$work/buy.out" &
  buyers_pid=$!
  sleep 0.5
  mixed=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" -s bench/browse.lua "$addr" | rps)
  wait "$buyers_pid"
  placed=$(( $(orders_of "$2") - before ))
  secs=${DURATION%s}
  stop
  printf '%-10s browse alone %8.0f req/s | with %d buyers %8.0f req/s = %.2f x | orders %.1f/s\n' \
    "$1" "$alone" "$BUYERS" "$mixed" "$(awk -v a="$mixed" -v b="$alone" 'BEGIN{print a/b}')" \
    "$(awk -v p="$placed" -v s="$secs" 'BEGIN{print p/(s+0.5)}')"
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
