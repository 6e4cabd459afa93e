#!/usr/bin/env bash
# Interop with real peers: Python `websockets` (asyncio API) and Node `ws`, against both of our
# adapters, in both roles.
#
#   bash tests/interop/run.sh
#
# Pairs (8):
#   ours=server  websockets client / ws client  ->  examples/interop_server blocking and
#                examples/interop_server tokio (`--features tokio,deflate`)
#   ours=client  examples/interop_client (blocking and tokio adapters, `--features tokio,deflate`)
#                ->  websockets server / ws server (tests/interop/peer.py, peer.js)
# Every client runs the same script (three connections: messages, close by the client, close by
# the server); every server echoes, obeys `!ping P` and `!close CODE REASON`, and prints
# `interop PATH EVENT ...` lines, which this script checks for what the server observed.
#
# Features (the table's columns; "ours" = sent or started by rfc6455):
#   deflate-negotiated  Sec-WebSocket-Extensions in the 101 and the client's API (+ .server: the
#                       server's own record of it)
#   text-utf8 binary fragmented 1MiB  echoes identical (4-byte UTF-8 text; bytes 0x00..0xff;
#                       text in 3 frames split inside 4-byte characters; 1 MiB random binary)
#   ping-ours / ping-theirs  our ping gets their pong / their ping gets our pong, with the same
#                       payload (a pinging server confirms with the text `pong P`; + .observed:
#                       the other side reported that ping)
#   close-ours / close-theirs  4000 "bye" started by one side: the other side observed exactly
#                       that code and reason (.observed), the starter saw a clean close
#   deflate-roundtrip   a compressible 1 MiB text echoes identical
#   deflate-wire-ours / deflate-wire-theirs  it took < 256 KiB on the wire in that direction;
#                       (at whatever window was negotiated: every window compresses)
#
# Output: one `PASS|FAIL|NOTE peer role adapter feature: detail` line per check, then a table.
# Exit status 1 on any FAIL. Peers are installed (pinned) into target/interop/ and reused.
#
# Needs Rust, Python 3 (venv + pip), node and npm; installs websockets and ws itself. About 20 s
# with nothing cached but the cargo builds (which autobahn/run.sh shares), under 10 s warm.
#
# Environment (all optional):
#   INTEROP_PEERS     "python node" (default) or one of them
#   INTEROP_TIMEOUT   seconds for one client run (default 120)
#   INTEROP_PORT_BASE the servers' ports: this one and the next three (default: any free port)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
HERE=$ROOT/tests/interop
OUT=$ROOT/target/interop
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WEBSOCKETS_VERSION=17.4
WS_VERSION=8.23.0
PEERS=${INTEROP_PEERS:-python node}
CLIENT_TIMEOUT=${INTEROP_TIMEOUT:-120}
mkdir -p "$OUT"
T0=$SECONDS

log() { printf '[interop %(%H:%M:%S)T] %s\n' -1 "$*"; }

PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------- peers (cached)
VENV=$OUT/venv
PY=$VENV/bin/python
NODE_DIR=$OUT/node
if [[ " $PEERS " == *" python "* ]]; then
  if [[ ! -x $PY ]]; then
    log "creating virtualenv $VENV"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
      rm -rf "$VENV"
      log "python3 -m venv failed; installing python3-venv"
      (timeout 300 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq python3-venv) >/dev/null
      python3 -m venv "$VENV"
    fi
  fi
  if [[ $("$PY" -c 'import websockets; print(websockets.__version__)' 2>/dev/null) != "$WEBSOCKETS_VERSION" ]]; then
    log "installing websockets==$WEBSOCKETS_VERSION into $VENV"
    timeout 600 "$PY" -m pip install --disable-pip-version-check -q "websockets==$WEBSOCKETS_VERSION"
  fi
fi
if [[ " $PEERS " == *" node "* ]]; then
  if [[ $(node -p "require('$NODE_DIR/node_modules/ws/package.json').version" 2>/dev/null) != "$WS_VERSION" ]]; then
    log "installing ws@$WS_VERSION into $NODE_DIR"
    mkdir -p "$NODE_DIR"
    [[ -f $NODE_DIR/package.json ]] || echo '{"private": true}' >"$NODE_DIR/package.json"
    (cd "$NODE_DIR" && timeout 600 npm install --no-audit --no-fund --silent "ws@$WS_VERSION")
  fi
fi
export NODE_PATH=$NODE_DIR/node_modules # peer.js finds ws there
log "peers: websockets $("$PY" -c 'import websockets; print(websockets.__version__)' 2>/dev/null || echo -), ws $(node -p "require('$NODE_DIR/node_modules/ws/package.json').version" 2>/dev/null || echo -), $(python3 --version), node $(node --version 2>/dev/null || echo -)"

# ---------------------------------------------------------------- our binaries
# The same feature sets and profile as autobahn/run.sh, so CI reuses its builds.
log "cargo build (release): interop_server, interop_client [tokio,deflate]"
timeout 1800 cargo build --release --features tokio,deflate --example interop_server --example interop_client
BIN=$TARGET/release/examples
T_BUILT=$SECONDS

# ---------------------------------------------------------------- servers
declare -A ADDR SLOG
# start_server NAME COMMAND...: run it, wait for `listening on ws://ADDR`
start_server() {
  local name=$1; shift
  local logf=$OUT/server-$name.log
  rm -f "$logf"
  timeout -k 5 900 "$@" >"$logf" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  local deadline=$((SECONDS + 30))
  until grep -q '^listening on ws://' "$logf" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
      echo "FAIL server $name did not start:"; sed 's/^/    /' "$logf"; exit 1
    fi
    sleep 0.1
  done
  ADDR[$name]=$(grep -m1 '^listening on ws://' "$logf" | sed -E 's#^listening on ws://([^ /]+).*#\1#')
  SLOG[$name]=$logf
  log "server $name on ${ADDR[$name]}"
}
# INTEROP_PORT_BASE: the four servers listen on it and the next three ports (default: any).
port_of() { if [[ -n ${INTEROP_PORT_BASE:-} ]]; then echo $((INTEROP_PORT_BASE + $1)); else echo 0; fi; }
start_server ours-blocking "$BIN/interop_server" blocking "127.0.0.1:$(port_of 0)"
start_server ours-tokio "$BIN/interop_server" tokio "127.0.0.1:$(port_of 1)"
[[ " $PEERS " == *" python "* ]] && INTEROP_PORT=$(port_of 2) start_server python "$PY" "$HERE/peer.py" server 900
[[ " $PEERS " == *" node "* ]] && INTEROP_PORT=$(port_of 3) start_server node node "$HERE/peer.js" server 900

# ---------------------------------------------------------------- results
FEATURES=(deflate-negotiated text-utf8 binary fragmented 1MiB ping-ours ping-theirs close-ours close-theirs
  deflate-roundtrip deflate-wire-ours deflate-wire-theirs)
declare -A CELL
ROWS=()
PASSED=0
FAILED=0
NOTED=0
# record ROW VERDICT FEATURE DETAIL
record() {
  local row=$1 verdict=$2 feature=$3 detail=$4 col=${3%%.*}
  local who=${row//|/ }
  echo "$verdict $who $feature: $detail"
  case $verdict in
    PASS) PASSED=$((PASSED + 1)) ;;
    NOTE) NOTED=$((NOTED + 1)) ;;
    *) FAILED=$((FAILED + 1)); verdict=FAIL ;;
  esac
  local old=${CELL["$row|$col"]:-}
  if [[ $old == FAIL || ($old == NOTE && $verdict == PASS) ]]; then return; fi
  CELL["$row|$col"]=$verdict
}

# server_saw ROW FEATURE SERVER PATH REGEX GOOD: wait (5 s) for the server's line
server_saw() {
  local row=$1 feature=$2 server=$3 path=$4 re=$5 good=$6 deadline=$((SECONDS + 5)) got
  until got=$(grep -E "^interop $path $re" "${SLOG[$server]}" | head -n 1) && [[ -n $got ]]; do
    if ((SECONDS >= deadline)); then
      got=$(grep -E "^interop $path " "${SLOG[$server]}" | tr '\n' ';' || true)
      record "$row" FAIL "$feature" "server log has no /$re/ for $path; its lines: ${got:-none}"
      return
    fi
    sleep 0.1
  done
  record "$row" PASS "$feature" "$good (${got#interop })"
}

# pair PEER ROLE ADAPTER SERVER URL CLIENT_COMMAND...
pair() {
  local peer=$1 role=$2 adapter=$3 server=$4 base=$5; shift 5
  local row="$peer|ours=$role|$adapter" c s
  ROWS+=("$row")
  if [[ $role == server ]]; then c=theirs; s=ours; else c=ours; s=theirs; fi
  local path=${base#ws://*/}
  path=/$path
  log "$peer, ours=$role, $adapter: $* $base"
  local out=$OUT/client-$peer-$role-$adapter.log rc=0 t=$SECONDS
  timeout -k 5 "$CLIENT_TIMEOUT" "$@" "$base" >"$out" 2>&1 || rc=$?
  local verdict feature detail
  while read -r verdict feature detail; do
    case $verdict in PASS|FAIL|NOTE) ;; *) continue ;; esac
    case $feature in
      ping-by-client) feature=ping-$c ;;
      ping-by-server) feature=ping-$s ;;
      close-by-client) feature=close-$c.clean ;;
      close-by-server) feature=close-$s.observed ;;
      deflate-wire-c2s) feature=deflate-wire-$c ;;
      deflate-wire-s2c) feature=deflate-wire-$s ;;
    esac
    record "$row" "$verdict" "$feature" "$detail"
  done <"$out"
  if ((rc != 0)) && ! grep -q '^FAIL ' "$out"; then
    record "$row" FAIL client "exit $rc after $((SECONDS - t)) s; output:"; sed 's/^/    /' "$out"
  fi
  # What the server observed.
  server_saw "$row" deflate-negotiated.server "$server" "$path/data" 'open deflate=(Some|permessage-deflate)' "server negotiated it"
  server_saw "$row" "ping-$c.observed" "$server" "$path/data" 'ping client-ping-1$' "server saw the ping"
  server_saw "$row" "close-$c.observed" "$server" "$path/close-by-client" 'closed 4000 bye clean=true$' "server observed exactly 4000 \"bye\""
  server_saw "$row" "close-$s.clean" "$server" "$path/close-by-server" 'closed [0-9]+ .*clean=true$' "server's close completed cleanly"
}

for peer in $PEERS; do
  case $peer in
    python) client=("$PY" "$HERE/peer.py" client); pname=websockets-$WEBSOCKETS_VERSION ;;
    node) client=(node "$HERE/peer.js" client); pname=ws-$WS_VERSION ;;
    *) echo "unknown peer $peer" >&2; exit 2 ;;
  esac
  for adapter in blocking tokio; do
    pair "$pname" server "$adapter" "ours-$adapter" "ws://${ADDR[ours-$adapter]}/$peer-client-vs-$adapter" "${client[@]}"
  done
  for adapter in blocking tokio; do
    pair "$pname" client "$adapter" "$peer" "ws://${ADDR[$peer]}/$adapter-client-vs-$peer" "$BIN/interop_client" "$adapter"
  done
done

for name in "${!SLOG[@]}"; do
  if grep -qiE 'panic|thread .* panicked' "${SLOG[$name]}"; then
    FAILED=$((FAILED + 1)); echo "FAIL server $name: panicked"; grep -iE -A3 'panic' "${SLOG[$name]}" | sed 's/^/    /'
  fi
done

# ---------------------------------------------------------------- table
echo
printf '%-18s %-12s %-9s' peer role adapter
for f in "${FEATURES[@]}"; do printf ' %s' "$f"; done
echo
for row in "${ROWS[@]}"; do
  for f in "${FEATURES[@]}"; do
    [[ -n ${CELL["$row|$f"]:-} ]] || record "$row" FAIL "$f" "no result (the client stopped early)" >/dev/null
  done
done
for row in "${ROWS[@]}"; do
  IFS='|' read -r p r a <<<"$row"
  printf '%-18s %-12s %-9s' "$p" "$r" "$a"
  for f in "${FEATURES[@]}"; do printf " %-${#f}s" "${CELL["$row|$f"]}"; done
  echo
done
echo
log "took $((SECONDS - T0)) s ($((T_BUILT - T0)) s setup and build, $((SECONDS - T_BUILT)) s checks)"
echo "interop: $PASSED passed, $FAILED failed"
((NOTED == 0)) || echo "($NOTED NOTE lines: reported, not failures)"
((FAILED == 0))
