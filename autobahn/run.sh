#!/usr/bin/env bash
# Run the Autobahn|Testsuite cases against rfc6455's examples, through kosoku
# (a Python 3 runner of the Autobahn case files, PyPI), and compare the
# results with the golden file autobahn/expected.json.
#
#   bash autobahn/run.sh            run both roles, check, exit non-zero on any deviation
#   bash autobahn/run.sh --bless    same, but first write the observed verdicts into
#                                   autobahn/expected.json (review the diff before committing)
#
# Roles and adapters (AUTOBAHN_ADAPTER=blocking, the default, or tokio):
#   server  kosoku -m fuzzingclient drives examples/echo_server     -> target/autobahn/server/
#           (tokio: examples/tokio_echo                             -> target/autobahn/tokio/server/)
#   client  examples/autobahn_client drives kosoku -m fuzzingserver -> target/autobahn/client/
#           (tokio: examples/tokio_autobahn_client                  -> target/autobahn/tokio/client/)
# Both adapters are held to the same golden file: they drive the same state machine.
#   AUTOBAHN_ADAPTER=no_alloc: server role only, examples/no_alloc (fixed::Connection on stack
#           buffers, no permessage-deflate)                 -> target/autobahn/no_alloc/server/
#           held to autobahn/expected-no-alloc.json, with the cases of
#           autobahn/fuzzingclient-no-alloc.json (no 12.* / 13.*: permessage-deflate needs an
#           allocator, and a server that declines it is not what those cases test)
#   AUTOBAHN_ADAPTER=hyper: server role only, examples/hyper (hyper 1 serves the HTTP, the
#           upgrade goes through rfc6455::hyper::upgrade_with at ws://ADDR/ws, then the tokio
#           adapter; permessage-deflate)                     -> target/autobahn/hyper/server/
#           held to the server verdicts of autobahn/expected.json, every case
#
# Environment (all optional):
#   AUTOBAHN_SERVER_BIN / AUTOBAHN_CLIENT_BIN  use these binaries instead of building the
#                         examples (each skips its own `cargo build`); same CLI contract:
#                         `echo_server ADDR` printing `listening on ws://ADDR[/PATH]` once
#                         bound (the suite then connects to that URL),
#                         `autobahn_client URL AGENT` running getCaseCount/runCase/updateReports
#   AUTOBAHN_ADAPTER      blocking (default) | tokio | no_alloc | hyper: which examples to build
#                         and run
#   AUTOBAHN_ONLY         server | client: run one role only
#   AUTOBAHN_SERVER_PORT  echo server port (default: the port in fuzzingclient.json)
#   AUTOBAHN_CLIENT_PORT  fuzzingserver port (default: the port in fuzzingserver.json; 0 = any)
#   AUTOBAHN_AGENT        agent name the client reports (default: the spec's agent)
#   AUTOBAHN_CASES        space-separated case globs to run instead of the spec's ("1.* 9.7.*"):
#                         the golden comparison then covers those cases only
#   AUTOBAHN_PARALLELISM  cases kosoku runs at once against the server (default 2: halves
#                         the server role's time, every case still strictly OK; 1 = serial)
#   AUTOBAHN_SETUP_ONLY   1: only install kosoku into the virtualenv, then exit (so that runs
#                         started at once after it do not race to create it)
#   AUTOBAHN_SUITE_TIMEOUT / AUTOBAHN_BUILD_TIMEOUT / AUTOBAHN_START_TIMEOUT  seconds
#                         (defaults 1200 / 1800 / 30)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
HERE=$ROOT/autobahn
ADAPTER=${AUTOBAHN_ADAPTER:-blocking}
case $ADAPTER in
  blocking) REPORTS=$ROOT/target/autobahn; SERVER_EXAMPLE=echo_server; CLIENT_EXAMPLE=autobahn_client; FEATURES=deflate ;;
  tokio) REPORTS=$ROOT/target/autobahn/tokio; SERVER_EXAMPLE=tokio_echo; CLIENT_EXAMPLE=tokio_autobahn_client; FEATURES=tokio,deflate ;;
  no_alloc) REPORTS=$ROOT/target/autobahn/no_alloc; SERVER_EXAMPLE=no_alloc; CLIENT_EXAMPLE=; FEATURES=std ;;
  hyper) REPORTS=$ROOT/target/autobahn/hyper; SERVER_EXAMPLE=hyper; CLIENT_EXAMPLE=; FEATURES=hyper,deflate ;;
  *) echo "run.sh: AUTOBAHN_ADAPTER must be blocking, tokio, no_alloc or hyper, not $ADAPTER" >&2; exit 2 ;;
esac
VENV=$ROOT/target/autobahn/venv
KOSOKU_VERSION=0.1.0
# Fixes to kosoku itself, made for exactly KOSOKU_VERSION (see each file's header).
KOSOKU_PATCHES=("$HERE/kosoku-0.1.0-deflate-uncompressed.patch")
GOLDEN=$HERE/expected.json
SERVER_SPEC=$HERE/fuzzingclient.json
if [[ $ADAPTER == no_alloc ]]; then
  GOLDEN=$HERE/expected-no-alloc.json
  SERVER_SPEC=$HERE/fuzzingclient-no-alloc.json
fi

BLESS=0
for arg in "$@"; do
  case $arg in
    --bless) BLESS=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

ONLY=${AUTOBAHN_ONLY:-}
if [[ -z $CLIENT_EXAMPLE ]]; then
  # The no_alloc and hyper examples are servers: there is no client to run.
  case $ONLY in
    ''|server) ONLY=server ;;
    *) echo "run.sh: AUTOBAHN_ADAPTER=$ADAPTER runs the server role only" >&2; exit 2 ;;
  esac
fi
SUITE_TIMEOUT=${AUTOBAHN_SUITE_TIMEOUT:-1200}
BUILD_TIMEOUT=${AUTOBAHN_BUILD_TIMEOUT:-1800}
START_TIMEOUT=${AUTOBAHN_START_TIMEOUT:-30}
PARALLELISM=${AUTOBAHN_PARALLELISM:-2}
CHECK=(python3 "$HERE/check.py")

log() { printf '[autobahn %(%H:%M:%S)T] %s\n' -1 "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- cleanup
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

# wait_for_line FILE REGEX PID SECONDS: wait until FILE has a line matching REGEX
wait_for_line() {
  local file=$1 re=$2 pid=$3 deadline=$((SECONDS + $4))
  while ! grep -Eq "$re" "$file" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "process exited before printing /$re/; its output:"; sed 's/^/    /' "$file" >&2; return 1
    fi
    if ((SECONDS >= deadline)); then
      log "no /$re/ after $4 s; output so far:"; sed 's/^/    /' "$file" >&2; return 1
    fi
    sleep 0.1
  done
}

# wait_pid PID SECONDS: wait for a background child, return its status (124 on timeout)
wait_pid() {
  local pid=$1 deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; return 124; fi
    sleep 0.2
  done
  local rc=0; wait "$pid" || rc=$?; return "$rc"
}

# ---------------------------------------------------------------- kosoku
setup_kosoku() {
  if [[ ! -x $VENV/bin/python ]]; then
    log "creating virtualenv $VENV"
    mkdir -p "$(dirname "$VENV")"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
      rm -rf "$VENV"
      log "python3 -m venv failed; installing python3-venv"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv) >/dev/null
      python3 -m venv "$VENV"
    fi
  fi
  if [[ $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("kosoku"))' 2>/dev/null) != "$KOSOKU_VERSION" ]]; then
    log "installing kosoku==$KOSOKU_VERSION into $VENV"
    timeout 600 "$VENV/bin/python" -m pip install --disable-pip-version-check -q "kosoku==$KOSOKU_VERSION"
  fi
  patch_kosoku
  KOSOKU=$VENV/bin/kosoku
}

# Apply KOSOKU_PATCHES to the venv's kosoku: idempotent (an applied patch is detected and
# skipped); a missing patch, or one that applies neither forwards nor backwards, stops the run.
patch_kosoku() {
  local site p
  site=$("$VENV/bin/python" -c 'import importlib.util, os; print(os.path.dirname(os.path.dirname(importlib.util.find_spec("kosoku").origin)))')
  if ! command -v patch >/dev/null; then
    log "patch(1) not found; installing patch"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq patch) >/dev/null
  fi
  for p in "${KOSOKU_PATCHES[@]}"; do
    [[ -f $p ]] || { log "missing kosoku patch $p"; exit 1; }
    if patch -d "$site" -p1 -F0 -R --dry-run -s -f <"$p" >/dev/null 2>&1; then
      continue  # already applied
    fi
    if ! patch -d "$site" -p1 -F0 -N --dry-run -s -f <"$p" >/dev/null 2>&1; then
      log "$(basename "$p") does not apply to kosoku $KOSOKU_VERSION in $site:"
      patch -d "$site" -p1 -F0 -N --dry-run -f <"$p" 2>&1 | sed 's/^/    /' >&2 || true
      exit 1
    fi
    log "patching kosoku: $(basename "$p")"
    patch -d "$site" -p1 -F0 -N -s -f <"$p" || { log "patching kosoku with $(basename "$p") failed"; exit 1; }
  done
}

# ---------------------------------------------------------------- binaries
setup_bins() {
  local target_dir=${CARGO_TARGET_DIR:-$ROOT/target} examples=()
  SERVER_BIN=${AUTOBAHN_SERVER_BIN:-}
  CLIENT_BIN=${AUTOBAHN_CLIENT_BIN:-}
  if [[ $ONLY != client && -z $SERVER_BIN ]]; then
    examples+=(--example "$SERVER_EXAMPLE"); SERVER_BIN=$target_dir/release/examples/$SERVER_EXAMPLE
  fi
  if [[ $ONLY != server && -z $CLIENT_BIN ]]; then
    examples+=(--example "$CLIENT_EXAMPLE"); CLIENT_BIN=$target_dir/release/examples/$CLIENT_EXAMPLE
  fi
  if ((${#examples[@]})); then
    log "cargo build --release --features $FEATURES ${examples[*]}"
    local t0; t0=$(now)
    timeout "$BUILD_TIMEOUT" cargo build --release --features "$FEATURES" "${examples[@]}"
    log "build took $(since "$t0") s"
  fi
}

# kosoku rejects --spec: turn the spec's case selection into -i/-x options.
kosoku_case_args() {
  "${CHECK[@]}" spec "$1" kosoku-args ${AUTOBAHN_CASES:+--cases "$AUTOBAHN_CASES"}
}

SUMMARY=()
FAILED=0

check_role() {
  local role=$1 out=$2 extra=()
  [[ -n ${AUTOBAHN_CASES:-} ]] && extra+=(--subset)
  if ((BLESS)); then "${CHECK[@]}" bless "$out" --role "$role" --golden "$GOLDEN" "${extra[@]}" || return 1; fi
  # examples/no_alloc refuses messages over 1 MiB with 1009 (see the example): those cases
  # pass when they get exactly the golden verdict and the 1009.
  [[ $ADAPTER == no_alloc ]] && extra+=(--golden-refusals)
  "${CHECK[@]}" check "$out" --role "$role" --golden "$GOLDEN" --timing "${extra[@]}"
}

# ---------------------------------------------------------------- role: server
run_server_suite() {
  local spec=$SERVER_SPEC out hostport port srv_log addr t0 rc=0 kargs
  out=$("${CHECK[@]}" spec "$spec" outdir --reports-dir "$REPORTS")
  hostport=$("${CHECK[@]}" spec "$spec" hostport)
  port=${AUTOBAHN_SERVER_PORT:-${hostport##*:}}
  mapfile -t kargs < <(kosoku_case_args "$spec")
  rm -rf "$out"; mkdir -p "$out"
  srv_log=$REPORTS/echo_server.log
  rm -f "$srv_log"  # a stale "listening on" line would race the new server's

  log "starting $SERVER_BIN 127.0.0.1:$port"
  timeout -k 5 $((SUITE_TIMEOUT + 60)) "$SERVER_BIN" "127.0.0.1:$port" >"$srv_log" 2>&1 &
  local srv_pid=$!; PIDS+=("$srv_pid")
  wait_for_line "$srv_log" '^listening on ws://' "$srv_pid" "$START_TIMEOUT" || { SUMMARY+=("server: FAIL (echo_server did not start)"); return 1; }
  # The URL the server printed, its path included (examples/hyper serves the WebSocket at /ws).
  addr=$(grep -Em1 '^listening on ws://' "$srv_log" | sed -E 's#^listening on (ws://[^ ]+).*#\1#')
  log "server suite: kosoku -m fuzzingclient $addr ${kargs[*]} -p $PARALLELISM -o $out"
  t0=$(now)
  timeout -k 10 "$SUITE_TIMEOUT" "$KOSOKU" -m fuzzingclient "$addr" "${kargs[@]}" -p "$PARALLELISM" -o "$out" \
    >"$REPORTS/kosoku-server.log" 2>&1 || rc=$?
  local took; took=$(since "$t0")
  tail -n 3 "$REPORTS/kosoku-server.log" | sed 's/^/    kosoku: /'
  log "server suite took $took s (kosoku exit $rc)"
  local alive=1; kill -0 "$srv_pid" 2>/dev/null || alive=0
  kill "$srv_pid" 2>/dev/null || true; wait "$srv_pid" 2>/dev/null || true
  if ((rc == 124 || rc == 137)); then
    SUMMARY+=("server: FAIL (suite timed out after $SUITE_TIMEOUT s)"); return 1
  fi
  if ((rc != 0 && rc != 1)); then  # 1 = some case did not pass (reports still written)
    sed 's/^/    /' "$REPORTS/kosoku-server.log" | tail -n 30 >&2
    SUMMARY+=("server: FAIL (kosoku exit $rc)"); return 1
  fi
  local crc=0; check_role server "$out" || crc=$?
  if ((!alive)); then
    log "echo_server exited during the suite; its output:"; tail -n 30 "$srv_log" | sed 's/^/    /' >&2
    crc=1
  fi
  SUMMARY+=("server: $( ((crc == 0)) && echo PASS || echo FAIL) in $took s$( ((alive)) || echo ', echo_server died')")
  return "$crc"
}

# ---------------------------------------------------------------- role: client
run_client_suite() {
  local spec=$HERE/fuzzingserver.json out hostport port agent fz_log addr t0 rc=0 crc=0 kargs
  out=$("${CHECK[@]}" spec "$spec" outdir --reports-dir "$REPORTS")
  hostport=$("${CHECK[@]}" spec "$spec" hostport)
  port=${AUTOBAHN_CLIENT_PORT:-${hostport##*:}}
  agent=${AUTOBAHN_AGENT:-$("${CHECK[@]}" spec "$HERE/fuzzingclient.json" agent)}
  mapfile -t kargs < <(kosoku_case_args "$spec")
  rm -rf "$out"; mkdir -p "$out"
  fz_log=$REPORTS/kosoku-client.log
  rm -f "$fz_log"

  log "client suite: kosoku -m fuzzingserver 127.0.0.1:$port ${kargs[*]} -o $out"
  t0=$(now)
  timeout -k 10 $((SUITE_TIMEOUT + 60)) "$KOSOKU" -m fuzzingserver "127.0.0.1:$port" "${kargs[@]}" -o "$out" >"$fz_log" 2>&1 &
  local fz_pid=$!; PIDS+=("$fz_pid")
  wait_for_line "$fz_log" 'fuzzingserver listening on ws://' "$fz_pid" "$START_TIMEOUT" || { SUMMARY+=("client: FAIL (fuzzingserver did not start)"); return 1; }
  addr=$(grep -Em1 'fuzzingserver listening on ws://' "$fz_log" | sed -E 's#.*listening on ws://([^ /]+).*#\1#')
  log "running $CLIENT_BIN ws://$addr $agent"
  timeout -k 5 "$SUITE_TIMEOUT" "$CLIENT_BIN" "ws://$addr" "$agent" >"$REPORTS/autobahn_client.log" 2>&1 || crc=$?
  if ((crc != 0)); then
    log "autobahn_client exit $crc; its output:"; tail -n 30 "$REPORTS/autobahn_client.log" | sed 's/^/    /' >&2
  fi
  # After updateReports kosoku finishes the in-flight cases and writes the reports.
  wait_pid "$fz_pid" 60 || rc=$?
  local took; took=$(since "$t0")
  tail -n 3 "$fz_log" | sed 's/^/    kosoku: /'
  log "client suite took $took s (kosoku exit $rc, autobahn_client exit $crc)"
  if ((rc == 124)); then
    SUMMARY+=("client: FAIL (kosoku still running 60 s after the client exited: no updateReports?)"); return 1
  fi
  if ((rc != 0 && rc != 1)); then
    sed 's/^/    /' "$fz_log" | tail -n 30 >&2
    SUMMARY+=("client: FAIL (kosoku exit $rc)"); return 1
  fi
  local chk=0; check_role client "$out" || chk=$?
  ((crc == 0)) || chk=1
  SUMMARY+=("client: $( ((chk == 0)) && echo PASS || echo FAIL) in $took s$( ((crc == 0)) || echo ", autobahn_client exit $crc")")
  return "$chk"
}

# ---------------------------------------------------------------- main
T0=$(now)
mkdir -p "$REPORTS"
setup_kosoku
if [[ ${AUTOBAHN_SETUP_ONLY:-} == 1 ]]; then log "kosoku $KOSOKU_VERSION ready in $VENV"; exit 0; fi
setup_bins
if [[ $ONLY != client ]]; then run_server_suite || FAILED=1; fi
if [[ $ONLY != server ]]; then run_client_suite || FAILED=1; fi

echo
for line in "${SUMMARY[@]}"; do echo "autobahn ($ADAPTER) $line"; done
if ((FAILED)); then
  echo "autobahn ($ADAPTER): FAIL after $(since "$T0") s (reports: $REPORTS/{server,client}/index.html)"
  exit 1
fi
echo "autobahn ($ADAPTER): PASS after $(since "$T0") s"
