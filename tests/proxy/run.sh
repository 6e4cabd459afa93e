#!/usr/bin/env bash
# Runs tests/integration/proxy.rs against real tinyproxy instances on 127.0.0.1.
#
#   tests/proxy/run.sh [extra cargo test filter/args after --]
#
# Installs tinyproxy with apt-get if it is missing, builds the test first, then starts three
# tinyproxy instances on free ports with configs generated under target/proxy/:
#   open    Allow 127.0.0.1, ConnectPort <echo port> and <dead port>
#   auth    the same plus BasicAuth user pass
#   forbid  ConnectPort <dead port> only: a CONNECT to the echo port gets 403
# exports their addresses (RFC6455_TINYPROXY_OPEN/AUTH/FORBID, RFC6455_PROXY_ECHO_PORT,
# RFC6455_PROXY_DEAD_PORT), runs the tests with --nocapture so each prints what it observed,
# and stops the proxies on exit. Without these variables the real-proxy tests print
# "SKIPPED (...)" and pass.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$(pwd)
dir="$root/target/proxy"
mkdir -p "$dir"

log() { printf '[run.sh] %s\n' "$*"; }

if ! command -v tinyproxy >/dev/null 2>&1; then
    log "tinyproxy not found: installing it with apt-get"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo -n"; fi
    timeout 300 $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive timeout 600 $sudo apt-get install -y -qq tinyproxy >/dev/null
fi
log "$(tinyproxy -v 2>&1 | head -n1)"

# Build before starting the proxies, so they only live while the tests run.
log "building the proxy test"
timeout 1800 cargo test -p rfc6455-integration --test proxy --no-run

# A port nothing listens on right now (the kernel's choice, released at once).
free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
        return
    fi
    local port
    for _ in $(seq 1 100); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    echo "no free port found" >&2
    return 1
}

# Distinct free ports for the echo server, the dead destination and the three proxies.
ports=()
while [ "${#ports[@]}" -lt 5 ]; do
    p=$(free_port)
    if [[ " ${ports[*]-} " != *" $p "* ]]; then ports+=("$p"); fi
done
echo_port=${ports[0]} dead_port=${ports[1]}
open_port=${ports[2]} auth_port=${ports[3]} forbid_port=${ports[4]}

pids=()
cleanup() {
    local status=$?
    for pid in "${pids[@]-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]-}"; do
        [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
    done
    log "tinyproxy instances stopped"
    exit "$status"
}
trap cleanup EXIT INT TERM

# write_config NAME PORT EXTRA_LINES...
write_config() {
    local name=$1 port=$2
    shift 2
    {
        echo "Port $port"
        echo "Listen 127.0.0.1"
        echo "Timeout 10"
        echo "MaxClients 32"
        echo "Allow 127.0.0.1"
        echo "LogLevel Info"
        echo "LogFile \"$dir/$name.log\""
        echo "PidFile \"$dir/$name.pid\""
        printf '%s\n' "$@"
    } >"$dir/$name.conf"
}

write_config open "$open_port" "ConnectPort $echo_port" "ConnectPort $dead_port"
write_config auth "$auth_port" "ConnectPort $echo_port" "BasicAuth user pass"
write_config forbid "$forbid_port" "ConnectPort $dead_port"

for name in open auth forbid; do
    : >"$dir/$name.log"
    tinyproxy -d -c "$dir/$name.conf" >"$dir/$name.stdout" 2>&1 &
    pids+=("$!")
done

# Wait (at most 10 s) until each proxy accepts connections.
for port in "$open_port" "$auth_port" "$forbid_port"; do
    ready=""
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            ready=1
            break
        fi
        sleep 0.1
    done
    if [ -z "$ready" ]; then
        log "tinyproxy on port $port did not start; its output:"
        cat "$dir"/*.stdout "$dir"/*.log >&2 || true
        exit 1
    fi
done

export RFC6455_TINYPROXY_OPEN="127.0.0.1:$open_port"
export RFC6455_TINYPROXY_AUTH="127.0.0.1:$auth_port"
export RFC6455_TINYPROXY_FORBID="127.0.0.1:$forbid_port"
export RFC6455_PROXY_ECHO_PORT="$echo_port"
export RFC6455_PROXY_DEAD_PORT="$dead_port"
log "open=$RFC6455_TINYPROXY_OPEN auth=$RFC6455_TINYPROXY_AUTH forbid=$RFC6455_TINYPROXY_FORBID echo port=$echo_port dead port=$dead_port"

timeout 300 cargo test -p rfc6455-integration --test proxy -- --include-ignored --nocapture "$@"

log "what the proxies logged (CONNECT requests and refusals):"
grep -hE 'Request \(|Refused|Could not|Unauthorized|authentication' "$dir"/open.log "$dir"/auth.log "$dir"/forbid.log \
    | sed -E 's/^[A-Z]+ +[A-Za-z]+ [0-9]+ [0-9:.]+ \[[0-9]+\]: /  /' || true
