#!/usr/bin/env bash
# wsprobe and the reference suite (kosoku, the Python 3 port of Autobahn|Testsuite) on the
# same four servers, verdicts tabulated per category (wsprobe/tabulate.py):
#
#   ours-blocking  examples/echo_server   (rfc6455, blocking adapter)
#   ours-tokio     examples/tokio_echo    (rfc6455, tokio adapter)
#   websockets     wsprobe/peers/echo.py  (PyPI websockets 17.4, library defaults)
#   ws             wsprobe/peers/echo.js  (npm ws 8.23.0, defaults + permessage-deflate on)
#
#   bash wsprobe/compare.sh [--no-kosoku]     output: target/wsprobe/compare/{*.json,table.md}
#
# Installs websockets and kosoku into target/wsprobe/venv (PyPI) and ws into
# target/wsprobe/node (npm) on first use. kosoku runs every case but the ones it cannot run
# (autobahn/kosoku-broken.txt), 8 at a time, on the four servers at once: about 20 min on a
# busy 2-core machine.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$TARGET/wsprobe/compare
VENV=$TARGET/wsprobe/venv
NODE_DIR=$TARGET/wsprobe/node
KOSOKU=1
[[ ${1:-} == --no-kosoku ]] && KOSOKU=0
mkdir -p "$OUT"

log() { printf '[compare %(%H:%M:%S)T] %s\n' -1 "$*"; }

PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

if [[ ! -x $VENV/bin/python ]]; then python3 -m venv "$VENV"; fi
if ! "$VENV/bin/python" -c 'import websockets, kosoku' 2>/dev/null; then
  log "pip install websockets==17.4 kosoku==0.1.0 into $VENV"
  timeout 600 "$VENV/bin/python" -m pip install --disable-pip-version-check -q "websockets==17.4" "kosoku==0.1.0"
fi
if [[ ! -d $NODE_DIR/node_modules/ws ]]; then
  log "npm install ws@8.23.0 into $NODE_DIR"
  mkdir -p "$NODE_DIR"
  (cd "$NODE_DIR" && timeout 600 npm install --no-audit --no-fund --silent ws@8.23.0)
fi

log "cargo build (release): wsprobe; echo_server, tokio_echo [tokio,deflate]"
timeout 1800 cargo build --release -p wsprobe
timeout 1800 cargo build --release --features tokio,deflate --example echo_server --example tokio_echo
BIN=$TARGET/release

start() { # start NAME COMMAND...: sets ADDR
  local name=$1 logf=$OUT/$1.log; shift
  rm -f "$logf"
  timeout -k 5 2700 "$@" >"$logf" 2>&1 &
  PIDS+=("$!")
  local pid=$! deadline=$((SECONDS + 30))
  until grep -q 'listening on ws://' "$logf" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
      log "$name did not start:"; cat "$logf"; exit 1
    fi
    sleep 0.1
  done
  ADDR=$(grep -m1 'listening on ws://' "$logf" | sed -E 's#.*listening on ws://([^ /]+).*#\1#')
}

KARGS=()
while read -r id; do
  [[ -z $id || $id == \#* ]] && continue
  KARGS+=(-x "$id")
done <"$ROOT/autobahn/kosoku-broken.txt"

declare -A ADDRS
for name in ours-blocking ours-tokio websockets ws; do
  case $name in
    ours-blocking) start "$name" "$BIN/examples/echo_server" 127.0.0.1:0 ;;
    ours-tokio) start "$name" "$BIN/examples/tokio_echo" 127.0.0.1:0 ;;
    websockets) start "$name" "$VENV/bin/python" wsprobe/peers/echo.py 2700 ;;
    ws) start "$name" env NODE_PATH="$NODE_DIR/node_modules" node wsprobe/peers/echo.js 2700 ;;
  esac
  ADDRS[$name]=$ADDR
done
# wsprobe first, one server at a time (its timing is part of the result) ...
for name in ours-blocking ours-tokio websockets ws; do
  log "$name on ${ADDRS[$name]}: wsprobe server"
  "$BIN/wsprobe" server "ws://${ADDRS[$name]}/" --json "$OUT/wsprobe-$name.json" >"$OUT/wsprobe-$name.txt" || true
  head -n 13 "$OUT/wsprobe-$name.txt"
done
# ... then kosoku on all four at once (each run takes minutes: Python, 8 cases at a time).
if ((KOSOKU)); then
  KPIDS=()
  for name in ours-blocking ours-tokio websockets ws; do
    log "$name on ${ADDRS[$name]}: kosoku -m fuzzingclient -p 8"
    rm -rf "$OUT/kosoku-$name"
    timeout -k 10 2400 "$VENV/bin/kosoku" -m fuzzingclient "${ADDRS[$name]}" "${KARGS[@]}" -p 8 \
      -o "$OUT/kosoku-$name" >"$OUT/kosoku-$name.log" 2>&1 &
    KPIDS+=("$!")
  done
  for p in "${KPIDS[@]}"; do wait "$p" || true; done
  log "kosoku done"
fi

"$VENV/bin/python" wsprobe/tabulate.py "$OUT" ours-blocking ours-tokio websockets ws | tee "$OUT/table.md"
