#!/usr/bin/env bash
# `wsprobe doctor` against a real nginx (Debian's package) in front of our echo server, and
# against the other usual mistakes, with the outcome of each asserted.
#
#   bash wsprobe/doctor-nginx.sh
#
# Installs nginx with apt-get if it is missing (as tests/proxy/run.sh does tinyproxy), builds
# wsprobe (debug: what `cargo test -p wsprobe` built already) and examples/echo_server (release
# with the features autobahn/run.sh uses, so CI reuses that build), starts the echo server on 127.0.0.1 and nginx with its own config, pid and logs
# under target/doctor-nginx/ (127.0.0.1 ports only; both stopped on exit), and checks:
#   1 correct proxy config                     -> all green, exit 0
#   2 without the Upgrade/Connection lines     -> upgrade_not_passed with the nginx fix, exit 1
#   3 proxy_read_timeout 3s, doctor --idle 8s  -> idle_cut after ~3 s, keepalive suggested, exit 1
#   4 http:// instead of ws://                 -> http_scheme, exit 1
#   5 a wrong path through nginx               -> not_found (404), exit 1
#   6 python3 -m http.server                   -> plain_http (200), exit 1
#   7 a port nothing listens on                -> tcp_refused, exit 1
# Each doctor transcript is printed; the JSON reports stay in target/doctor-nginx/.
#
# Environment (optional): WSPROBE_BIN, ECHO_SERVER_BIN (skip the builds),
# DOCTOR_BUILD_TIMEOUT (seconds, default 1800).
# shellcheck disable=SC2016 # nginx's $http_upgrade is meant literally
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
dir="$root/target/doctor-nginx"
rm -rf "$dir"
mkdir -p "$dir/tmp" "$dir/www"

log() { printf '[doctor-nginx %(%H:%M:%S)T] %s\n' -1 "$*"; }
FAILS=0
fail() { log "FAIL: $*"; FAILS=$((FAILS + 1)); }

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    log "nginx not found: installing it with apt-get"
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then sudo=(sudo -n); fi
    timeout 300 "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive timeout 600 "${sudo[@]}" apt-get install -y -qq nginx-light >/dev/null 2>&1 ||
        DEBIAN_FRONTEND=noninteractive timeout 600 "${sudo[@]}" apt-get install -y -qq nginx >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
log "$("$NGINX" -v 2>&1)"

build_timeout=${DOCTOR_BUILD_TIMEOUT:-1800}
target_dir=${CARGO_TARGET_DIR:-$root/target}
if [ -z "${WSPROBE_BIN:-}" ]; then
    log "cargo build -p wsprobe"
    timeout "$build_timeout" cargo build -p wsprobe
    WSPROBE_BIN=$target_dir/debug/wsprobe
fi
if [ -z "${ECHO_SERVER_BIN:-}" ]; then
    log "cargo build --release --features deflate --example echo_server"
    timeout "$build_timeout" cargo build --release --features deflate --example echo_server
    ECHO_SERVER_BIN=$target_dir/release/examples/echo_server
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

PIDS=()
cleanup() {
    local status=$?
    local p
    for p in "${PIDS[@]-}"; do if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; fi; done
    for p in "${PIDS[@]-}"; do if [ -n "$p" ]; then wait "$p" 2>/dev/null || true; fi; done
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s at most)
wait_port() {
    local _
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

# -- the echo server
"$ECHO_SERVER_BIN" 127.0.0.1:0 >"$dir/echo.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 100); do grep -q '^listening on ws://' "$dir/echo.log" && break; sleep 0.1; done
echo_addr=$(grep -Em1 '^listening on ws://' "$dir/echo.log" | sed -E 's#^listening on ws://([^ /]+).*#\1#')
[ -n "$echo_addr" ] || { log "echo_server did not start:"; cat "$dir/echo.log"; exit 1; }
log "echo server on $echo_addr"

# -- nginx
NGINX_PID=""
# start_nginx NAME LOCATION_LINES...: writes the config, starts nginx in the foreground
# (daemon off) on a fresh port, exports PORT
start_nginx() {
    local name=$1
    shift
    stop_nginx
    PORT=$(free_port)
    local conf="$dir/$name.conf"
    {
        echo "daemon off;"
        echo "worker_processes 1;"
        echo "pid $dir/$name.pid;"
        echo "error_log $dir/$name.error.log info;"
        echo "events { worker_connections 64; }"
        echo "http {"
        echo "    access_log $dir/$name.access.log;"
        echo "    client_body_temp_path $dir/tmp/body;"
        echo "    proxy_temp_path $dir/tmp/proxy;"
        echo "    fastcgi_temp_path $dir/tmp/fastcgi;"
        echo "    uwsgi_temp_path $dir/tmp/uwsgi;"
        echo "    scgi_temp_path $dir/tmp/scgi;"
        echo "    server {"
        echo "        listen 127.0.0.1:$PORT;"
        echo "        root $dir/www;"
        echo "        location /ws {"
        echo "            proxy_pass http://$echo_addr;"
        local line
        for line in "$@"; do echo "            $line"; done
        echo "        }"
        echo "    }"
        echo "}"
    } >"$conf"
    log "nginx ($name) on 127.0.0.1:$PORT, location /ws:"
    printf '    %s\n' "$@"
    "$NGINX" -p "$dir" -c "$conf" -e "$dir/$name.error.log" >"$dir/$name.stdout" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    if ! wait_port "$PORT"; then
        log "nginx did not start:"
        cat "$dir/$name.stdout" "$dir/$name.error.log" >&2 || true
        exit 1
    fi
}
stop_nginx() {
    if [ -n "$NGINX_PID" ]; then
        kill "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
        NGINX_PID=""
    fi
}

# doctor NAME ARGS...: runs doctor, prints its transcript and time, leaves $dir/NAME.json and RC
doctor() {
    local name=$1
    shift
    log "wsprobe doctor $*"
    local t0=$SECONDS
    RC=0
    "$WSPROBE_BIN" doctor --json-file "$dir/$name.json" "$@" | tee "$dir/$name.txt" || RC=${PIPESTATUS[0]}
    log "exit code $RC, $((SECONDS - t0)) s"
}

# check NAME PYTHON_EXPR DESCRIPTION: asserts on the JSON report r
check() {
    if python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); ids = [d["id"] for d in r["diagnoses"]]; sys.exit(0 if eval(sys.argv[2]) else 1)' \
        "$dir/$1.json" "$2"; then
        log "ok: $1: $3"
    else
        fail "$1: $3 (expected $2)"
    fi
}
expect_rc() {
    if [ "$RC" = "$2" ]; then log "ok: $1: exit code $2"; else fail "$1: exit code $RC, expected $2"; fi
}

UPGRADE_LINES=(
    "proxy_http_version 1.1;"
    'proxy_set_header Upgrade $http_upgrade;'
    'proxy_set_header Connection "upgrade";'
)

echo
log "== 1: correct configuration"
start_nginx correct "${UPGRADE_LINES[@]}" "proxy_read_timeout 3600s;"
doctor correct "ws://127.0.0.1:$PORT/ws"
expect_rc correct 0
check correct 'r["ok"] and ids == [] and r["echo"] is True and r["ping"]["count"] == 5' "all green, echo and 5 pongs"
check correct 'r["response"]["status"] == 101 and (r["response"]["server"] or "").startswith("nginx")' "101 through nginx"

echo
log "== 4: http:// instead of ws:// (same nginx)"
doctor http-scheme "http://127.0.0.1:$PORT/ws"
expect_rc http-scheme 1
check http-scheme 'ids == ["http_scheme"] and r["probed_url"].startswith("ws://") and r["echo"] is True' "http_scheme, then probed as ws://"

echo
log "== 5: wrong path (same nginx)"
doctor wrong-path "ws://127.0.0.1:$PORT/chat"
expect_rc wrong-path 1
check wrong-path 'ids == ["not_found"] and r["response"]["status"] == 404' "not_found (404)"

echo
log "== 2: without the Upgrade/Connection lines"
start_nginx no-upgrade "proxy_http_version 1.1;" "proxy_read_timeout 3600s;"
doctor no-upgrade "ws://127.0.0.1:$PORT/ws"
expect_rc no-upgrade 1
check no-upgrade 'ids == ["upgrade_not_passed"] and "proxy_set_header Upgrade $http_upgrade;" in r["diagnoses"][0]["nginx"] and "proxy_set_header Connection \"upgrade\";" in r["diagnoses"][0]["nginx"]' "upgrade_not_passed with the nginx lines"
grep -q 'proxy_set_header Upgrade \$http_upgrade;' "$dir/no-upgrade.txt" || fail "no-upgrade: the fix is not in the printed output"

echo
log "== 3: proxy_read_timeout 3s, doctor --idle 8s"
start_nginx short-timeout "${UPGRADE_LINES[@]}" "proxy_read_timeout 3s;"
doctor short-timeout --idle 8s "ws://127.0.0.1:$PORT/ws"
expect_rc short-timeout 1
check short-timeout 'ids == ["idle_cut"] and 2.5 <= r["idle"]["cut_after_s"] <= 4.5 and 1.0 <= r["idle"]["suggested_keepalive_s"] <= 2.25' "idle_cut after ~3 s, keepalive ~1.5 s"
grep -q 'proxy_read_timeout' "$dir/short-timeout.txt" || fail "short-timeout: proxy_read_timeout is not in the printed output"
stop_nginx

echo
log "== 6: a plain web server (python3 -m http.server)"
HTTP_PORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$dir/www" "$HTTP_PORT" >"$dir/http.server.log" 2>&1 &
PIDS+=("$!")
wait_port "$HTTP_PORT" || { log "http.server did not start"; exit 1; }
doctor plain-http "ws://127.0.0.1:$HTTP_PORT/"
expect_rc plain-http 1
check plain-http 'ids == ["plain_http"] and r["response"]["status"] == 200' "plain_http (200)"

echo
log "== 7: a port nothing listens on"
DEAD_PORT=$(free_port)
doctor refused "ws://127.0.0.1:$DEAD_PORT/ws"
expect_rc refused 1
check refused 'ids == ["tcp_refused"]' "tcp_refused"

echo
if ((FAILS)); then
    log "FAIL: $FAILS check(s) failed"
    exit 1
fi
log "PASS: every outcome as expected"
