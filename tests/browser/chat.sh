#!/usr/bin/env bash
# Browser test of the chat demo: examples/chat.rs (axum + rfc6455::hyper) in headless Chromium,
# plus curl probes of its routes.
#
#   bash tests/browser/chat.sh
#
# 1. Starts the chat on 127.0.0.1 (a free port: it binds port 0 and prints the address).
# 2. tests/browser/chat.py opens TWO pages of the demo in one Chromium (DevTools pipe, Python
#    stdlib only, as cdp.py): both join with different names, A sends "🦀𝄞" and a 64 KiB
#    message, B shows both intact; each shows the other's join; A's page closes, B shows A
#    leaving; names are shown as text and cut to 32 characters by the server.
# 3. curl: /ws without Sec-WebSocket-Key -> 400 naming it; Sec-WebSocket-Version: 8 -> 426
#    with Sec-WebSocket-Version: 13; a plain GET /ws -> 426; GET /nope -> 404; GET / -> 200
#    with the page.
# One PASS/FAIL line per check; exit status 1 if any failed. Everything started here is
# stopped on exit, and every step has a deadline.
#
# Environment (optional): CHAT_BIN (use this binary instead of building the example),
# CHROMIUM (browser binary), BROWSER_TIMEOUT (seconds for the browser part, default 60).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
HERE=$ROOT/tests/browser
OUT=$ROOT/target/browser-chat
BROWSER_TIMEOUT=${BROWSER_TIMEOUT:-60}
mkdir -p "$OUT"

log() { printf '[chat %(%H:%M:%S)T] %s\n' -1 "$*"; }
PASSED=0
FAILED=0
pass() { echo "PASS $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $*"; FAILED=$((FAILED + 1)); }

SRV_PID=
cleanup() {
  [[ -n $SRV_PID ]] || return 0
  kill "$SRV_PID" 2>/dev/null || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$SRV_PID" 2>/dev/null || return 0; sleep 0.2; done
  kill -9 "$SRV_PID" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------- tools
need=()
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[[ -n $CHROMIUM ]] || need+=(chromium)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
  log "installing ${need[*]} (apt-get)"
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq "${need[@]}" >/dev/null
  CHROMIUM=${CHROMIUM:-$(command -v chromium)}
fi
log "$("$CHROMIUM" --version 2>/dev/null | tail -n 1)"

BIN=${CHAT_BIN:-}
if [[ -z $BIN ]]; then
  log "cargo build --example chat"
  timeout 1800 cargo build --example chat
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/examples/chat
fi

# ---------------------------------------------------------------- server
SRV_LOG=$OUT/chat.log
rm -f "$SRV_LOG"
timeout -k 5 300 "$BIN" 127.0.0.1:0 >"$SRV_LOG" 2>&1 &
SRV_PID=$!
deadline=$((SECONDS + 30))
until grep -q '^chat on http://' "$SRV_LOG" 2>/dev/null; do
  if ! kill -0 "$SRV_PID" 2>/dev/null || ((SECONDS >= deadline)); then
    fail "chat start: no 'chat on http://' line"; sed 's/^/    /' "$SRV_LOG"
    echo "chat: $PASSED passed, $FAILED failed"; exit 1
  fi
  sleep 0.1
done
ADDR=$(grep -m1 '^chat on http://' "$SRV_LOG" | sed -E 's#^chat on http://([^ /]+).*#\1#')
pass "chat listening on $ADDR"

# ---------------------------------------------------------------- browser
log "Chromium: two pages of http://$ADDR/"
rc=0
timeout -k 10 $((BROWSER_TIMEOUT + 30)) python3 "$HERE/chat.py" "$CHROMIUM" "http://$ADDR/" \
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
# probe NAME PATH CURL_ARGS...: sets STATUS, HEADERS, BODY, CURL_RC
probe() {
  local name=$1 path=$2; shift 2
  local raw=$OUT/curl-$name.txt
  CURL_RC=0
  curl -sS -i -N --max-time 5 "$@" "http://$ADDR$path" >"$raw" 2>"$OUT/curl-$name.err" || CURL_RC=$?
  STATUS=$(head -n 1 "$raw" | awk '{print $2}')
  HEADERS=$(sed -n '2,/^\r\{0,1\}$/p' "$raw" | tr -d '\r')
  BODY=$(sed '1,/^\r\{0,1\}$/d' "$raw" | tr -d '\r')
  echo "    curl $name: exit $CURL_RC, $(head -n 1 "$raw" | tr -d '\r'); body: $(printf '%s' "$BODY" | head -c 120 | tr '\n' ' ')"
}

probe no-key /ws -H "Connection: Upgrade" -H "Upgrade: websocket"
if [[ $CURL_RC == 0 && $STATUS == 400 ]] && grep -q 'Sec-WebSocket-Key' <<<"$BODY"; then
  pass "curl /ws without Sec-WebSocket-Key: 400 naming the header"
else
  fail "curl /ws without Sec-WebSocket-Key: want 400 naming Sec-WebSocket-Key, got '${STATUS:-none}' (curl exit $CURL_RC)"
fi

probe version-8 /ws -H "Connection: Upgrade" -H "Upgrade: websocket" \
  -H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" -H "Sec-WebSocket-Version: 8"
if [[ $CURL_RC == 0 && $STATUS == 426 ]] && grep -Eqi '^Sec-WebSocket-Version: *13 *$' <<<"$HEADERS"; then
  pass "curl /ws with Sec-WebSocket-Version: 8: 426 with Sec-WebSocket-Version: 13"
else
  fail "curl /ws with Sec-WebSocket-Version: 8: want 426 with Sec-WebSocket-Version: 13, got '${STATUS:-none}' (curl exit $CURL_RC)"
fi

probe plain-ws /ws
if [[ $CURL_RC == 0 && $STATUS == 426 ]] && grep -Eqi '^Upgrade: *websocket *$' <<<"$HEADERS"; then
  pass "curl plain GET /ws: 426 with Upgrade: websocket"
else
  fail "curl plain GET /ws: want 426 with Upgrade: websocket, got '${STATUS:-none}' (curl exit $CURL_RC)"
fi

probe nope /nope
if [[ $CURL_RC == 0 && $STATUS == 404 ]]; then
  pass "curl GET /nope: 404"
else
  fail "curl GET /nope: want 404, got '${STATUS:-none}' (curl exit $CURL_RC)"
fi

probe page /
if [[ $CURL_RC == 0 && $STATUS == 200 ]] && grep -qi '^content-type: *text/html' <<<"$HEADERS" \
  && grep -q "new WebSocket(\"ws://\" + location.host + \"/ws\")" <<<"$BODY"; then
  pass "curl GET /: 200 with the page ($(printf '%s' "$BODY" | wc -c) bytes of HTML)"
else
  fail "curl GET /: want 200 text/html opening ws://host/ws, got '${STATUS:-none}' (curl exit $CURL_RC)"
fi

if kill -0 "$SRV_PID" 2>/dev/null; then
  pass "chat still running after all checks"
else
  fail "chat exited during the checks"; tail -n 20 "$SRV_LOG" | sed 's/^/    /'
fi

echo
echo "chat: $PASSED passed, $FAILED failed"
((FAILED == 0))
