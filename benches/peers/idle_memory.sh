#!/usr/bin/env bash
# Idle memory per WebSocket connection of rfc6455's tokio echo server and of the peers' echo
# servers (tokio-tungstenite, fastwebsockets, tokio-websockets).
#
#   benches/peers/idle_memory.sh [RFC6455_ECHO_BINARY]
#
# Without an argument (or $RFC6455_ECHO) it builds the root's `examples/tokio_echo` in release
# (`--features $RFC6455_FEATURES`, default tokio,deflate: the example's required features)
# and uses target/release/examples/tokio_echo; with one it uses that binary as is (same CLI
# contract as the examples: `BIN ADDR`, prints `listening on ws://ADDR`). It always builds the
# peers' servers and the `idle_clients` probe (`cargo build --release -p rfc6455-peers`).
# Plain release, unlike bench.sh and e2e.sh (profile `peers`, fat LTO): memory per connection
# does not depend on LTO.
#
# For every server and both variants ("idle": handshake done, then idle; "after one echo":
# each connection also sends one ECHO_SIZE-byte binary message and gets its echo first) it starts a
# fresh server on its own 127.0.0.1 port, and `idle_clients` reads the server's RSS (VmRSS,
# settled), opens N connections (at most CONCURRENCY handshakes in flight), waits until the
# server's RSS settles again, prints the growth per connection and closes everything; then the
# server is stopped. Prints a markdown table.
#
# rfc6455 also gets two permessage-deflate variants (DEFLATE=0 to skip them): its own tokio
# client offers the extension (`idle_clients --deflate`: "deflate" with the defaults,
# "deflate, no_context_takeover" asking for it both ways), and each connection sends one
# DEFLATE_ECHO_SIZE-byte JSON text, compressed both ways, and gets its echo first; they are
# printed in a second table, against the plain "after one echo" row (run with
# ECHO_SIZE=DEFLATE_ECHO_SIZE for the same message size). A third, "deflate, burst", sends
# DEFLATE_BURST messages (default 4) one after the other per connection, each echoed, so that
# the server's engines stay busy for `idle_release` before the connection idles.
#
# Environment: N (10000), CONCURRENCY (200), ECHO_SIZE (16), SERVERS (all four names),
# BASE_PORT (19400), DEFLATE (1), DEFLATE_ECHO_SIZE (300), DEFLATE_BURST (4).
# The fd limit is raised with `ulimit -n` as far as the hard limit allows; N is lowered (with
# a warning) if it still does not fit. Bounded: each probe runs under `timeout`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
N=${N:-10000}
CONCURRENCY=${CONCURRENCY:-200}
ECHO_SIZE=${ECHO_SIZE:-16}
BASE_PORT=${BASE_PORT:-19400}
SERVERS=${SERVERS:-"rfc6455 tokio-tungstenite fastwebsockets tokio-websockets"}
DEFLATE=${DEFLATE:-1}
DEFLATE_ECHO_SIZE=${DEFLATE_ECHO_SIZE:-300}
DEFLATE_BURST=${DEFLATE_BURST:-4}
RFC_BIN=${1:-${RFC6455_ECHO:-}}
# The features examples/tokio_echo requires (its [[example]] required-features).
RFC6455_FEATURES=${RFC6455_FEATURES:-tokio,deflate}

log() { echo "idle_memory: $*" >&2; }

T0=$SECONDS
if [[ -z $RFC_BIN ]]; then
  log "cargo build --release --features $RFC6455_FEATURES --example tokio_echo"
  cargo build --release --features "$RFC6455_FEATURES" --example tokio_echo
  RFC_BIN=$TARGET/release/examples/tokio_echo
fi
log "cargo build --release -p rfc6455-peers --bins"
cargo build --release -p rfc6455-peers --bins
BUILD_SECS=$((SECONDS - T0))
[[ -x $RFC_BIN ]] || { log "no server binary at $RFC_BIN"; exit 1; }

# Both processes (server and probe) inherit this limit; each needs N sockets plus a few.
hard=$(ulimit -Hn)
if [[ $hard == unlimited ]]; then ulimit -n 1048576 2>/dev/null || true; else ulimit -n "$hard" 2>/dev/null || true; fi
FDS=$(ulimit -n)
log "fd limit: soft $FDS, hard $hard"
if ((FDS < N + 64)); then
  log "WARNING: the fd limit ($FDS) cannot be raised to N + 64 = $((N + 64)); N lowered to $((FDS - 64))"
  N=$((FDS - 64))
fi

bin_of() {
  case $1 in
    rfc6455) echo "$RFC_BIN" ;;
    tokio-tungstenite) echo "$TARGET/release/tokio_tungstenite_echo" ;;
    fastwebsockets) echo "$TARGET/release/fastwebsockets_echo" ;;
    tokio-websockets) echo "$TARGET/release/tokio_websockets_echo" ;;
    *) log "unknown server $1"; exit 2 ;;
  esac
}

SERVER_PID=""
OUTDIR=$(mktemp -d)
cleanup() {
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$OUTDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A RES
port=$BASE_PORT
T1=$SECONDS
for name in $SERVERS; do
  bin=$(bin_of "$name")
  variants="idle echo"
  [[ $name == rfc6455 && $DEFLATE == 1 ]] && variants+=" deflate deflate_burst deflate_nct"
  for variant in $variants; do
    port=$((port + 1))
    "$bin" "127.0.0.1:$port" >"$OUTDIR/out" 2>"$OUTDIR/err" &
    SERVER_PID=$!
    for _ in $(seq 200); do
      grep -q "listening on" "$OUTDIR/out" && break
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    if ! grep -q "listening on" "$OUTDIR/out"; then
      rc=0
      kill -0 "$SERVER_PID" 2>/dev/null && kill "$SERVER_PID"
      wait "$SERVER_PID" || rc=$?
      SERVER_PID=""
      log "$name did not start on port $port (exit status $rc): $(head -c 500 "$OUTDIR/err")"
      exit 1
    fi
    flag=()
    case $variant in
      echo) flag=(--echo --echo-size "$ECHO_SIZE") ;;
      deflate) flag=(--echo --echo-size "$DEFLATE_ECHO_SIZE" --deflate default) ;;
      deflate_burst) flag=(--echo --echo-size "$DEFLATE_ECHO_SIZE" --echo-count "$DEFLATE_BURST" --deflate default) ;;
      deflate_nct) flag=(--echo --echo-size "$DEFLATE_ECHO_SIZE" --deflate no_context_takeover) ;;
    esac
    line=$(timeout 300 "$TARGET/release/idle_clients" --url "ws://127.0.0.1:$port/" \
      --server-pid "$SERVER_PID" --conns "$N" --concurrency "$CONCURRENCY" "${flag[@]}" |
      grep '^RESULT') || line="RESULT failed"
    log "$name ($variant): $line"
    RES[$name/$variant]=$line
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  done
done
RUN_SECS=$((SECONDS - T1))

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"${RES[$1]:-}"; }

echo
echo "Server RSS growth per WebSocket connection, N = $N connections (VmRSS after they settle minus before, divided by N)"
echo
echo "| server | idle: bytes/conn | idle: KiB/conn | after one $ECHO_SIZE-byte echo: bytes/conn | after one echo: KiB/conn | RSS before → after (idle), MiB | RSS before → after (echo), MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for name in $SERVERS; do
  row="| $name |"
  for v in idle echo; do
    row+=" $(field "$name/$v" per_conn_bytes) | $(field "$name/$v" per_conn_kib) |"
  done
  for v in idle echo; do
    b=$(field "$name/$v" rss_before_kib)
    a=$(field "$name/$v" rss_after_kib)
    c=$(field "$name/$v" conns)
    if [[ -n $b && -n $a ]]; then
      row+=" $(awk -v b="$b" -v a="$a" 'BEGIN { printf "%.1f → %.1f", b / 1024, a / 1024 }') ($c conns) |"
    else
      row+=" failed |"
    fi
  done
  echo "$row"
done
if [[ $DEFLATE == 1 && " $SERVERS " == *" rfc6455 "* ]]; then
  echo
  echo "rfc6455 with permessage-deflate (its own tokio client offering it), N = $N: server RSS growth per connection"
  echo
  echo "| variant | message | bytes/conn | KiB/conn | over plain (after one echo), KiB/conn | RSS before → after, MiB |"
  echo "|---|---|---:|---:|---:|---:|"
  plain=$(field rfc6455/echo per_conn_bytes)
  for v in echo deflate deflate_burst deflate_nct; do
    case $v in
      echo) label="plain"; msg="one $ECHO_SIZE-byte binary echo" ;;
      deflate) label="deflate, defaults"; msg="one $DEFLATE_ECHO_SIZE-byte JSON text echo, compressed" ;;
      deflate_burst) label="deflate, defaults, burst"; msg="$DEFLATE_BURST $DEFLATE_ECHO_SIZE-byte JSON text echoes in a row, compressed" ;;
      deflate_nct) label="deflate, no_context_takeover both ways"; msg="one $DEFLATE_ECHO_SIZE-byte JSON text echo, compressed" ;;
    esac
    b=$(field "rfc6455/$v" per_conn_bytes)
    over=""
    [[ -n $b && -n $plain ]] && over=$(awk -v b="$b" -v p="$plain" 'BEGIN { printf "%+.2f", (b - p) / 1024 }')
    rb=$(field "rfc6455/$v" rss_before_kib)
    ra=$(field "rfc6455/$v" rss_after_kib)
    rss="failed"
    [[ -n $rb && -n $ra ]] && rss=$(awk -v b="$rb" -v a="$ra" 'BEGIN { printf "%.1f → %.1f", b / 1024, a / 1024 }')
    echo "| $label | $msg | ${b:-failed} | $(field "rfc6455/$v" per_conn_kib) | $over | $rss |"
  done
fi
echo
echo "Builds ${BUILD_SECS} s, measurements ${RUN_SECS} s."
