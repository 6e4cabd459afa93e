#!/usr/bin/env bash
# Browser interop test: headless Chromium against examples/echo_server, plus
# curl probes of the server's handshake rejections.
#
#   bash tests/browser/run.sh
#
# 1. Chromium (Debian's `chromium`, installed if missing) opens tests/browser/echo.html
#    as a file:// page, driven over the DevTools protocol on --remote-debugging-pipe by
#    tests/browser/cdp.py (Python stdlib only). The page does
#    `new WebSocket('ws://127.0.0.1:PORT/')`, sends a text, a binary and a 128 KiB text
#    message, checks each echo, closes with 1000 and checks the close event
#    (wasClean, code); cdp.py prints one PASS/FAIL line per check.
# 2. curl probes: a request without Sec-WebSocket-Key gets 400 naming that header,
#    Sec-WebSocket-Version: 8 gets 426 with `Sec-WebSocket-Version: 13`, a plain GET /
#    gets echo_server's test page (200), a plain GET /other gets 400 or 426; each answer
#    comes within 5 s and the server closes the connection.
#
# Environment (all optional):
#   ECHO_SERVER_BIN      use this echo server instead of building examples/echo_server
#                        (falls back to AUTOBAHN_SERVER_BIN); contract: `BIN ADDR`, prints
#                        `listening on ws://ADDR` once bound
#   BROWSER_PORT         port for the echo server (default 9001)
#   BROWSER_CURL_CHECKS  fail (default) | warn (print, never fail: for stand-in servers
#                        whose rejection texts differ) | skip
#   CHROMIUM             browser binary (default: chromium from PATH)
#   BROWSER_TIMEOUT      seconds for the browser part (default 60)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
HERE=$ROOT/tests/browser
OUT=$ROOT/target/browser
PORT=${BROWSER_PORT:-9001}
CURL_CHECKS=${BROWSER_CURL_CHECKS:-fail}
BROWSER_TIMEOUT=${BROWSER_TIMEOUT:-60}
SERVER_BIN=${ECHO_SERVER_BIN:-${AUTOBAHN_SERVER_BIN:-}}
mkdir -p "$OUT"

log() { printf '[browser %(%H:%M:%S)T] %s\n' -1 "$*"; }
PASSED=0
FAILED=0
pass() { echo "PASS $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $*"; FAILED=$((FAILED + 1)); }
# soft_fail: a curl expectation; obeys BROWSER_CURL_CHECKS
soft_fail() {
  if [[ $CURL_CHECKS == warn ]]; then echo "WARN $* (BROWSER_CURL_CHECKS=warn)"; else fail "$@"; fi
}

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

# ---------------------------------------------------------------- tools
need=()
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[[ -n $CHROMIUM ]] || need+=(chromium)
if [[ $CURL_CHECKS != skip ]] && ! command -v curl >/dev/null; then need+=(curl); fi
if ((${#need[@]})); then
  log "installing ${need[*]} (apt-get)"
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq "${need[@]}" >/dev/null
  CHROMIUM=${CHROMIUM:-$(command -v chromium)}
fi
log "$("$CHROMIUM" --version 2>/dev/null | tail -n 1)"

if [[ -z $SERVER_BIN ]]; then
  log "cargo build --release --example echo_server"
  timeout 1800 cargo build --release --example echo_server
  SERVER_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/echo_server
fi

# ---------------------------------------------------------------- server
SRV_LOG=$OUT/echo_server.log
rm -f "$SRV_LOG"
log "starting $SERVER_BIN 127.0.0.1:$PORT"
timeout -k 5 600 "$SERVER_BIN" "127.0.0.1:$PORT" >"$SRV_LOG" 2>&1 &
SRV_PID=$!
PIDS+=("$SRV_PID")
deadline=$((SECONDS + 30))
until grep -q '^listening on ws://' "$SRV_LOG" 2>/dev/null; do
  if ! kill -0 "$SRV_PID" 2>/dev/null || ((SECONDS >= deadline)); then
    fail "echo_server start: no 'listening on ws://' line"; sed 's/^/    /' "$SRV_LOG"
    echo "browser: $PASSED passed, $FAILED failed"; exit 1
  fi
  sleep 0.1
done
ADDR=$(grep -m1 '^listening on ws://' "$SRV_LOG" | sed -E 's#^listening on ws://([^ /]+).*#\1#')
pass "echo_server listening on $ADDR"

# ---------------------------------------------------------------- browser
log "Chromium: echo.html -> ws://$ADDR/"
rc=0
timeout -k 10 $((BROWSER_TIMEOUT + 30)) python3 "$HERE/cdp.py" "$CHROMIUM" "$HERE/echo.html" "ws://$ADDR/" \
  --timeout "$BROWSER_TIMEOUT" >"$OUT/browser.log" 2>&1 || rc=$?
sed -E '/^(PASS|FAIL) /d; s/^/    /' "$OUT/browser.log"
while IFS= read -r line; do
  case $line in
    PASS\ *) pass "${line#PASS }" ;;
    FAIL\ *) fail "${line#FAIL }" ;;
  esac
done <"$OUT/browser.log"
if ((rc != 0)) && ! grep -q '^FAIL ' "$OUT/browser.log"; then fail "browser driver exited $rc"; fi

# ---------------------------------------------------------------- curl probes
HOST=${ADDR%:*}
HPORT=${ADDR##*:}

# probe NAME CURL_HEADER_ARGS...: sets STATUS, HEADERS, BODY, CURL_RC
probe() {
  local name=$1; shift
  local raw=$OUT/curl-$name.txt
  CURL_RC=0
  curl -sS -i -N --max-time 5 "$@" "http://$ADDR${PROBE_PATH:-/}" >"$raw" 2>"$OUT/curl-$name.err" || CURL_RC=$?
  STATUS=$(head -n 1 "$raw" | awk '{print $2}')
  HEADERS=$(sed -n '2,/^\r\{0,1\}$/p' "$raw" | tr -d '\r')
  BODY=$(sed '1,/^\r\{0,1\}$/d' "$raw" | tr -d '\r')
  echo "    curl $name: exit $CURL_RC, $(head -n 1 "$raw" | tr -d '\r'); body: $(printf '%s' "$BODY" | head -c 200 | tr '\n' ' ')"
}

# closes NAME REQUEST: the server answers REQUEST and closes the TCP connection within 5 s
closes() {
  local name=$1 req=$2 fd rc=0
  if ! exec {fd}<>"/dev/tcp/$HOST/$HPORT"; then soft_fail "$name: cannot connect"; return; fi
  printf '%b' "$req" >&"$fd" || true
  timeout 5 cat <&"$fd" >"$OUT/raw-$name.txt" 2>/dev/null || rc=$?
  exec {fd}>&-
  if ((rc == 0)) && [[ -s $OUT/raw-$name.txt ]]; then
    pass "$name: server answered and closed the connection"
  elif ((rc == 124)); then
    soft_fail "$name: connection still open 5 s after the request"
  else
    soft_fail "$name: no answer before the connection ended (cat exit $rc)"
  fi
}

if [[ $CURL_CHECKS == skip ]]; then
  echo "SKIP curl probes (BROWSER_CURL_CHECKS=skip)"
else
  log "curl probes against http://$ADDR/"

  probe no-key -H "Connection: Upgrade" -H "Upgrade: websocket"
  if [[ $CURL_RC == 0 && $STATUS == 400 ]] && grep -qi 'Sec-WebSocket-Key' <<<"$BODY"; then
    pass "no Sec-WebSocket-Key: 400 naming the header"
  else
    soft_fail "no Sec-WebSocket-Key: want 400 with a body naming Sec-WebSocket-Key, got status '${STATUS:-none}' (curl exit $CURL_RC)"
  fi
  closes no-key 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'

  probe version-8 -H "Connection: Upgrade" -H "Upgrade: websocket" \
    -H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" -H "Sec-WebSocket-Version: 8"
  if [[ $CURL_RC == 0 && $STATUS == 426 ]] && grep -Eqi '^Sec-WebSocket-Version: *13 *$' <<<"$HEADERS"; then
    pass "Sec-WebSocket-Version: 8: 426 with Sec-WebSocket-Version: 13"
  else
    soft_fail "Sec-WebSocket-Version: 8: want 426 with 'Sec-WebSocket-Version: 13', got status '${STATUS:-none}' (curl exit $CURL_RC)"
  fi
  closes version-8 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n'

  # echo_server answers a plain GET / with its test page; a stand-in server may refuse it.
  probe plain
  if [[ $CURL_RC == 0 && $STATUS == 200 ]] && grep -q 'new WebSocket' <<<"$BODY"; then
    pass "plain GET /: 200 with the test page"
  elif [[ $CURL_RC == 0 && ( $STATUS == 400 && -n $BODY || $STATUS == 426 ) ]]; then
    pass "plain GET /: $STATUS refusal (a server without a test page)"
  else
    soft_fail "plain GET /: want 200 with the test page, or a 400 / 426 refusal, got status '${STATUS:-none}' (curl exit $CURL_RC)"
  fi
  closes plain 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'

  PROBE_PATH=/other probe plain-other
  if [[ $CURL_RC == 0 && $STATUS == 400 && -n $BODY ]]; then
    pass "plain GET /other: 400 with a reason"
  elif [[ $CURL_RC == 0 && $STATUS == 426 ]] && grep -Eqi '^Upgrade: *websocket *$' <<<"$HEADERS"; then
    pass "plain GET /other: 426 with Upgrade: websocket"
  else
    soft_fail "plain GET /other: want 400 with a reason or 426 with 'Upgrade: websocket', got status '${STATUS:-none}' (curl exit $CURL_RC)"
  fi
  closes plain-other 'GET /other HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
fi

if kill -0 "$SRV_PID" 2>/dev/null; then
  pass "echo_server still running after all checks"
else
  fail "echo_server exited during the checks"; tail -n 20 "$SRV_LOG" | sed 's/^/    /'
fi

echo
echo "browser: $PASSED passed, $FAILED failed"
((FAILED == 0))
