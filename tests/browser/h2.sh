#!/usr/bin/env bash
# Manual check, not run by CI: headless Chromium opens a WebSocket over HTTP/2 (RFC 8441)
# to examples/h2.
#
#   bash tests/browser/h2.sh
#
# examples/h2 serves https://localhost:PORT/ on 127.0.0.1 (rcgen certificate, ALPN h2 only,
# SETTINGS_ENABLE_CONNECT_PROTOCOL = 1) and stops by itself. Chromium (Debian's `chromium`,
# --ignore-certificate-errors) loads tests/browser/echo.html from that origin, so it holds an
# HTTP/2 connection to it, then runs the page's echo test against wss://localhost:PORT/echo:
# Chromium sends it as an extended CONNECT on the same connection. Checks: the page's own
# checks (text, binary, 128 KiB, clean close 1000) and, in the server's log, the CONNECT with
# :protocol websocket on the page's connection, a 200, and the END_STREAM after the close.
#
# Control (BROWSER_H2_CONTROL=1): the same page opened as file:// has no HTTP/2 connection to
# the origin, so Chromium dials wss:// on a new TLS connection offering ALPN ["http/1.1"]
# only, which this h2-only server refuses: the page must fail with ERR_SSL_PROTOCOL_ERROR.
#
# Control (BROWSER_H2_CONTROL=1), without the setting: the page loaded over HTTP/2 from a
# server that leaves SETTINGS_ENABLE_CONNECT_PROTOCOL out (H2_ENABLE_CONNECT=0): Chromium must
# not send the extended CONNECT; it dials HTTP/1.1 as above and fails the same way.
#
# Environment: CHROMIUM (default: chromium from PATH), BROWSER_TIMEOUT (default 40 s).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
OUT=$ROOT/target/browser-h2
mkdir -p "$OUT"
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[[ -n $CHROMIUM ]] || { echo "chromium not found (apt-get install chromium)"; exit 2; }
TIMEOUT=${BROWSER_TIMEOUT:-40}

PID=
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null || true; }
trap cleanup EXIT

cargo build -p rfc6455-integration --example h2
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/examples/h2

PASSED=0
FAILED=0
pass() { echo "PASS $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $*"; FAILED=$((FAILED + 1)); }

# start_server LOG: start examples/h2 for a while; sets PID and PORT
start_server() {
  env ${H2_SERVER_ENV:-} "$BIN" --serve $((TIMEOUT + 20)) >"$1" 2>&1 &
  PID=$!
  PORT=
  for _ in $(seq 50); do
    PORT=$(grep -o 'https://localhost:[0-9]*' "$1" | head -n 1 | cut -d: -f3 || true)
    [[ -n $PORT ]] && break
    sleep 0.1
  done
  [[ -n $PORT ]] || { cat "$1"; echo "FAIL server did not start"; exit 1; }
}

LOG=$OUT/server.log
start_server "$LOG"
rc=0
python3 tests/browser/cdp.py "$CHROMIUM" "https://localhost:$PORT/" "wss://localhost:$PORT/echo" \
  --timeout "$TIMEOUT" --flag=--ignore-certificate-errors | tee "$OUT/browser.log" || rc=$?
((rc == 0)) && pass "page checks over wss:// (see above)" || fail "page checks (cdp.py exit $rc)"
kill "$PID" 2>/dev/null || true
wait "$PID" 2>/dev/null || true
PID=
echo "---- server log"
cat "$LOG"
page_conn=$(grep -o '^conn [0-9]* stream [0-9]*: GET :protocol None https://localhost:[0-9]*/$' "$LOG" |
  head -n 1 | cut -d' ' -f2 || true)
ws_line=$(grep -m 1 ': CONNECT :protocol Some("websocket") https://localhost:[0-9]*/echo$' "$LOG" || true)
ws_conn=$(cut -d' ' -f2 <<<"$ws_line")
if [[ -n $ws_line && $ws_conn == "$page_conn" ]]; then
  pass "extended CONNECT on the page's HTTP/2 connection: $ws_line"
else
  fail "no extended CONNECT on the page's connection (page conn ${page_conn:-?}, ${ws_line:-no CONNECT})"
fi
grep -q "^conn $ws_conn stream [0-9]*: answered 200 OK$" "$LOG" && pass "answered 200" || fail "no 200"
grep -q "^conn $ws_conn stream [0-9]*: WebSocket over HTTP/2 done: .*Clean.*END_STREAM received: true$" "$LOG" &&
  pass "clean close, then Chromium's END_STREAM" || fail "no clean close with END_STREAM"

if [[ ${BROWSER_H2_CONTROL:-0} == 1 ]]; then
  LOG=$OUT/control.log
  start_server "$LOG"
  python3 tests/browser/cdp.py "$CHROMIUM" tests/browser/echo.html "wss://localhost:$PORT/echo" \
    --timeout 15 --flag=--ignore-certificate-errors >"$OUT/control-browser.log" 2>&1 || true
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=
  grep -h 'ERR_SSL_PROTOCOL_ERROR\|ALPN\|NoApplicationProtocol' "$OUT/control-browser.log" "$LOG" || true
  if grep -q ERR_SSL_PROTOCOL_ERROR "$OUT/control-browser.log" &&
    grep -q 'offers ALPN \["http/1.1"\]$' "$LOG" && grep -q NoApplicationProtocol "$LOG"; then
    pass "control: from file://, no HTTP/2 connection to reuse: HTTP/1.1 ALPN, refused"
  else
    fail "control: expected the HTTP/1.1 attempt to be refused"
  fi

  LOG=$OUT/control-no-setting.log
  H2_SERVER_ENV=H2_ENABLE_CONNECT=0 start_server "$LOG"
  python3 tests/browser/cdp.py "$CHROMIUM" "https://localhost:$PORT/" "wss://localhost:$PORT/echo" \
    --timeout 15 --flag=--ignore-certificate-errors >"$OUT/control-no-setting-browser.log" 2>&1 || true
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=
  cat "$LOG"
  grep -h 'ERR_' "$OUT/control-no-setting-browser.log" || true
  if grep -q 'GET :protocol None https://localhost:[0-9]*/$' "$LOG" && ! grep -q CONNECT "$LOG" &&
    grep -q 'offers ALPN \["http/1.1"\]$' "$LOG"; then
    pass "control: page over HTTP/2 without the setting: no extended CONNECT, an HTTP/1.1 dial"
  else
    fail "control: without the setting, expected no CONNECT and an HTTP/1.1 dial"
  fi
fi

echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
