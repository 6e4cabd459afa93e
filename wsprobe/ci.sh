#!/usr/bin/env bash
# wsprobe against rfc6455's own servers and clients, both adapters, both roles; fails on any
# case that is not OK (`--strict`).
#
#   bash wsprobe/ci.sh
#
#   server mode: wsprobe server  -> examples/echo_server (blocking), examples/tokio_echo (tokio)
#   client mode: examples/autobahn_client (blocking), examples/tokio_autobahn_client (tokio)
#                -> wsprobe client (Autobahn's getCaseCount/runCase/updateReports protocol)
#
# The examples are built with the features and profile of autobahn/run.sh's tokio step
# (release, tokio+deflate), so CI reuses that build. Reports: target/wsprobe/*.json.
# Everything listens on 127.0.0.1 and is bounded by `timeout`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$TARGET/wsprobe
mkdir -p "$OUT"
T0=$SECONDS

log() { printf '[wsprobe-ci %(%H:%M:%S)T] %s\n' -1 "$*"; }

PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

log "cargo build --release -p wsprobe; examples echo_server tokio_echo autobahn_client tokio_autobahn_client [tokio,deflate]"
timeout 1800 cargo build --release -p wsprobe
log "cargo clippy -p wsprobe --all-targets; cargo test --release -p wsprobe (the cases against in-process servers and clients)"
timeout 1800 cargo clippy -p wsprobe --all-targets -- -D warnings
timeout 1800 cargo test --release -p wsprobe
timeout 1800 cargo build --release --features tokio,deflate --example echo_server --example tokio_echo \
  --example autobahn_client --example tokio_autobahn_client
BIN=$TARGET/release
T_BUILT=$SECONDS

# start NAME LOG COMMAND...: run it in the background, wait for `listening on ws://ADDR`,
# set ADDR
start() {
  local name=$1 logf=$2; shift 2
  rm -f "$logf"
  timeout -k 5 300 "$@" >"$logf" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  local deadline=$((SECONDS + 30))
  until grep -q 'listening on ws://' "$logf" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
      log "FAIL: $name did not start:"; sed 's/^/    /' "$logf"; exit 1
    fi
    sleep 0.1
  done
  ADDR=$(grep -m1 'listening on ws://' "$logf" | sed -E 's#.*listening on ws://([^ /]+).*#\1#')
  LAST_PID=$pid
}

FAILED=0
SUMMARY=()
record() { # record LABEL RC SECONDS
  if (($2 == 0)); then SUMMARY+=("PASS  $1 in $3 s"); else SUMMARY+=("FAIL  $1 (exit $2) in $3 s"); FAILED=1; fi
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

for adapter in blocking tokio; do
  case $adapter in
    blocking) server=echo_server; client=autobahn_client ;;
    tokio) server=tokio_echo; client=tokio_autobahn_client ;;
  esac
  # ---- server mode
  start "$server" "$OUT/$server.log" "$BIN/examples/$server" 127.0.0.1:0
  srv_pid=$LAST_PID
  log "server mode: wsprobe server ws://$ADDR/ ($adapter)"
  t0=$(now); rc=0
  timeout 60 "$BIN/wsprobe" server "ws://$ADDR/" --strict --json "$OUT/server-$adapter.json" || rc=$?
  record "server mode, $adapter ($server)" "$rc" "$(since "$t0")"
  kill "$srv_pid" 2>/dev/null || true

  # ---- client mode
  start "wsprobe client" "$OUT/client-$adapter.log" "$BIN/wsprobe" client 0 --strict --idle 30 \
    --json "$OUT/client-$adapter.json"
  probe_pid=$LAST_PID
  log "client mode: $client ws://$ADDR rfc6455-$adapter"
  t0=$(now); crc=0; rc=0
  timeout 120 "$BIN/examples/$client" "ws://$ADDR" "rfc6455-$adapter" >"$OUT/$client.log" 2>&1 || crc=$?
  wait "$probe_pid" || rc=$?
  sed 's/^/    /' "$OUT/client-$adapter.log"
  if ((crc != 0)); then log "$client exit $crc:"; tail -n 20 "$OUT/$client.log" | sed 's/^/    /'; rc=1; fi
  record "client mode, $adapter ($client)" "$rc" "$(since "$t0")"
done

echo
for s in "${SUMMARY[@]}"; do echo "wsprobe-ci $s"; done
echo "wsprobe-ci: build $((T_BUILT - T0)) s, runs $((SECONDS - T_BUILT)) s"
if ((FAILED)); then echo "wsprobe-ci: FAIL"; exit 1; fi
echo "wsprobe-ci: PASS"
