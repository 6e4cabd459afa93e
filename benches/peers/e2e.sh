#!/usr/bin/env bash
# End-to-end echo benchmark: rfc6455's tokio echo server against tokio-tungstenite,
# fastwebsockets, tokio-websockets, sockudo-ws and yawc (UTF-8 checks on) echo servers, driven
# by one load client (echo_load). The two frame codecs of the in-memory comparison
# (embedded-websocket, websocket-sans-io) have no server of their own and are not in it.
#
#   benches/peers/e2e.sh [RFC6455_ECHO_BINARY]
#
# Without an argument (or $RFC6455_ECHO) it builds the root's `examples/tokio_echo`
# (`--features $RFC6455_FEATURES`, default tokio,deflate: the example's required features)
# and uses its binary in the profile's output directory (target/peers/examples/tokio_echo by
# default); with one it uses that binary as is (any server
# with the examples' CLI contract: `BIN ADDR`, prints `listening on ws://ADDR`). It always
# builds the peers' servers and the load client (`cargo build --profile $PROFILE -p
# rfc6455-peers`). PROFILE is the cargo profile of every build: `peers` (the root's release
# with fat LTO and one codegen unit) unless set, `release` for a plain release build.
#
# Every server listens on its own 127.0.0.1 port; only one is under load at a time. For each
# row (connections C, message size) every server gets ROUNDS runs of WARMUP + SECS seconds,
# the servers taking turns (the order rotates each round) so that all contenders of a row run
# back to back under the same machine load; a cell is the best of its rounds (a shared machine
# only ever slows a run down). Prints four markdown tables: messages/s (round trips: one
# message and its echo) with the ratio rfc6455 / best peer, of the best runs and of the means
# of all runs (the rounds spread by a few percent on a shared machine: the two ratios show how
# far a result is from a tie); the same rates paired round by round (e2e_paired.awk: each cell
# the geometric mean over the rounds of rfc6455's rate / that server's in the same round, with
# its standard error, and whether rfc6455 is behind some peer, ahead of every peer, or tied,
# by two standard errors: pairing cancels what the machine does between rounds, and
# no maximum over five peers is taken, which favours the peers when all are equally fast); the
# server's CPU time per message (utime+stime from /proc over the measured window, 10 ms ticks)
# with the ratio best peer / rfc6455 (above 1: rfc6455 uses less CPU); and the user-space part
# of it (utime: the library, the runtime, the allocator), which for small messages is a
# fraction of the kernel's share. With ROUNDS of 2 * BLOCK or more, a fifth (e2e_chance.awk):
# the rounds cut into blocks of BLOCK, and how often each server's best round reached every peer's,
# i.e. how often the best-rounds test passes by chance. Raw result lines go to $LOG.
#
# A control: the rfc6455 server runs twice, as two processes of the same binary ("rfc6455"
# and "control"), and the control takes its turns like every peer. It is never a "best peer";
# the column "control / rfc6455" is the ratio of two identical servers, i.e. how far this
# machine moves a result on its own in this run. A ratio to the best peer within that
# distance of 1.00x is a tie (CONTROL=0 leaves the control out).
#
# A ceiling, measured: "minimal" (src/bin/bound_echo.rs) is not a WebSocket server but about
# the least work an echo of echo_load's frames can do on the same runtime (one read, the
# length from the header, the payload unmasked in place, one write of it behind a server
# header; no copy, no allocation, no checks). It is never a "best peer"; the columns "rfc6455
# / minimal" say how close rfc6455 comes to it, i.e. roughly how far ahead of rfc6455 any
# library on this runtime and kernel could be. It is measured like every server, with the
# same spread: at one connection it has come out behind rfc6455 (MINIMAL=0 leaves it out).
#
# Environment: SECS (3), WARMUP (0.5), ROUNDS (5), KIND (binary | text), ROWS ("1:16 1:16384
# 64:16 64:16384"), BASE_PORT (19300), THREADS (load client runtime threads, 1), LOG
# (target/peers-e2e.log), PROFILE (peers), CONTROL (1), MINIMAL (1), BLOCK (5: with ROUNDS of
# 2 * BLOCK or more, e2e_chance.awk's table of how often the best-rounds test passes by chance). Bounded: every load run is under `timeout`, servers are killed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SECS=${SECS:-3}
WARMUP=${WARMUP:-0.5}
ROUNDS=${ROUNDS:-5}
KIND=${KIND:-binary}
ROWS=${ROWS:-"1:16 1:16384 64:16 64:16384"}
BASE_PORT=${BASE_PORT:-19300}
THREADS=${THREADS:-1}
LOG=${LOG:-$TARGET/peers-e2e.log}
RFC_BIN=${1:-${RFC6455_ECHO:-}}
# The features examples/tokio_echo requires (its [[example]] required-features).
RFC6455_FEATURES=${RFC6455_FEATURES:-tokio,deflate}
PROFILE=${PROFILE:-peers}
# Where cargo puts a profile's output: the built-in ones share `release` and `debug`.
case $PROFILE in
  release | bench) OUT_DIR=$TARGET/release ;;
  dev | test) OUT_DIR=$TARGET/debug ;;
  *) OUT_DIR=$TARGET/$PROFILE ;;
esac

log() { echo "e2e: $*" >&2; }

T0=$SECONDS
if [[ -z $RFC_BIN ]]; then
  log "cargo build --profile $PROFILE --features $RFC6455_FEATURES --example tokio_echo"
  cargo build --profile "$PROFILE" --features "$RFC6455_FEATURES" --example tokio_echo
  RFC_BIN=$OUT_DIR/examples/tokio_echo
fi
log "cargo build --profile $PROFILE -p rfc6455-peers --bins"
cargo build --profile "$PROFILE" -p rfc6455-peers --bins
BUILD_SECS=$((SECONDS - T0))
[[ -x $RFC_BIN ]] || { log "no server binary at $RFC_BIN"; exit 1; }

NAMES=(rfc6455 tokio-tungstenite fastwebsockets tokio-websockets sockudo-ws yawc)
BINS=("$RFC_BIN" "$OUT_DIR/tokio_tungstenite_echo" "$OUT_DIR/fastwebsockets_echo"
  "$OUT_DIR/tokio_websockets_echo" "$OUT_DIR/sockudo_ws_echo" "$OUT_DIR/yawc_echo")
CONTROL=${CONTROL:-1}
if [[ $CONTROL == 1 ]]; then
  NAMES+=(control)
  BINS+=("$RFC_BIN")
fi
MINIMAL=${MINIMAL:-1}
if [[ $MINIMAL == 1 ]]; then
  NAMES+=(minimal)
  BINS+=("$OUT_DIR/bound_echo")
fi
# Not a peer: rfc6455 itself, its control and the minimal server.
ours() { [[ $1 == rfc6455 || $1 == control || $1 == minimal ]]; }
LOAD=$OUT_DIR/echo_load
KIND_FLAG=()
[[ $KIND == text ]] && KIND_FLAG=(--text)

PIDS=()
OUTDIR=$(mktemp -d)
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$OUTDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Start every server on its own port and wait (at most 10 s each) for its "listening" line.
PORTS=()
for i in "${!NAMES[@]}"; do
  port=$((BASE_PORT + i))
  "${BINS[$i]}" "127.0.0.1:$port" >"$OUTDIR/$i.out" 2>"$OUTDIR/$i.err" &
  PIDS+=($!)
  PORTS+=("$port")
  for _ in $(seq 100); do
    grep -q "listening on" "$OUTDIR/$i.out" && break
    kill -0 "${PIDS[$i]}" 2>/dev/null || { log "${NAMES[$i]} exited: $(cat "$OUTDIR/$i.err")"; exit 1; }
    sleep 0.1
  done
  grep -q "listening on" "$OUTDIR/$i.out" || { log "${NAMES[$i]} did not start"; exit 1; }
  log "${NAMES[$i]}: $(head -n 1 "$OUTDIR/$i.out") (pid ${PIDS[$i]}, ${BINS[$i]})"
done

# Whether $1 is a number below $2 (or $2 is empty).
lower() { [[ -n $1 ]] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(b == "" || a < b) }'; }

mkdir -p "$(dirname "$LOG")"
: >"$LOG"
declare -A RATE CPU UCPU SUM RUNS
LIMIT=$(awk -v w="$WARMUP" -v s="$SECS" 'BEGIN { printf "%d", w + s + 20 }')
T1=$SECONDS
for row in $ROWS; do
  c=${row%%:*}
  size=${row##*:}
  for ((r = 0; r < ROUNDS; r++)); do
    for ((k = 0; k < ${#NAMES[@]}; k++)); do
      i=$(((k + r) % ${#NAMES[@]}))
      name=${NAMES[$i]}
      line=$(timeout "$LIMIT" "$LOAD" --url "ws://127.0.0.1:${PORTS[$i]}/" --conns "$c" \
        --size "$size" "${KIND_FLAG[@]}" --warmup "$WARMUP" --secs "$SECS" \
        --server-pid "${PIDS[$i]}" --threads "$THREADS" 2>>"$LOG" | grep '^RESULT') || {
        log "$name C=$c size=$size: load run failed (see $LOG)"
        line="RESULT failed"
      }
      echo "$name round=$r $line" >>"$LOG"
      rate=$(sed -n 's/.*msgs_per_s=\([0-9]*\).*/\1/p' <<<"$line")
      cpu=$(sed -n 's/.*server_cpu_us_per_msg=\([0-9.]*\).*/\1/p' <<<"$line")
      user=$(sed -n 's/.*server_user_us_per_msg=\([0-9.]*\).*/\1/p' <<<"$line")
      log "$name C=$c size=$size round $((r + 1))/$ROUNDS: ${rate:--} msg/s, server ${cpu:--} us CPU/msg (${user:--} in user space)"
      key="$row/$name"
      if [[ -n $rate ]]; then
        ((rate > ${RATE[$key]:-0})) && RATE[$key]=$rate
        SUM[$key]=$((${SUM[$key]:-0} + rate))
        RUNS[$key]=$((${RUNS[$key]:-0} + 1))
      fi
      lower "$cpu" "${CPU[$key]:-}" && CPU[$key]=$cpu
      lower "$user" "${UCPU[$key]:-}" && UCPU[$key]=$user
    done
  done
done
RUN_SECS=$((SECONDS - T1))

human_size() { if (($1 >= 1024)); then echo "$(($1 / 1024)) KiB"; else echo "$1 B"; fi; }

echo
# "a / b" as a ratio (2 decimals and x), or - when either is missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2fx", a / b }'; }
# The mean of a row's runs for one server, or nothing.
mean_of() { if [[ -n ${RUNS[$1/$2]:-} ]]; then echo $((SUM[$1/$2] / RUNS[$1/$2])); fi; }

CONTROL_NOTE=""
CONTROL_HEAD=""
if [[ $CONTROL == 1 ]]; then
  CONTROL_NOTE="; \"control\" is a second rfc6455 server, the same binary: control / rfc6455 (best, means) is how far two identical servers land apart in this run"
  CONTROL_HEAD=" control / rfc6455 | same, means |"
fi
MINIMAL_HEAD=""
if [[ $MINIMAL == 1 ]]; then
  CONTROL_NOTE+="; \"minimal\" is about the least work an echo can do on the same runtime, no WebSocket library (src/bin/bound_echo.rs): rfc6455 / minimal (best, means) is how close rfc6455 comes to it, roughly how far ahead of rfc6455 any library on this runtime could be"
  MINIMAL_HEAD=" rfc6455 / minimal | same, means |"
fi
echo "Messages per second ($KIND, round trips; best of $ROUNDS runs of ${SECS} s after ${WARMUP} s warm-up; ratio above 1: rfc6455 faster; \"same, means\" compares the means of the $ROUNDS runs instead$CONTROL_NOTE)"
echo
echo "| C | size |$(printf ' %s |' "${NAMES[@]}") rfc6455 / best peer | same, means |$CONTROL_HEAD$MINIMAL_HEAD"
echo "|---|---|$(printf -- '---:|%.0s' "${NAMES[@]}")---:|---:|${CONTROL_HEAD:+---:|---:|}${MINIMAL_HEAD:+---:|---:|}"
for row in $ROWS; do
  c=${row%%:*}
  size=${row##*:}
  cells=""
  best=0
  for name in "${NAMES[@]}"; do
    v=${RATE[$row/$name]:-}
    cells+=" ${v:--} |"
    if ! ours "$name" && [[ -n $v ]] && ((v > best)); then best=$v; fi
  done
  rfc=${RATE[$row/rfc6455]:-}
  # The same with each server's mean over its rounds.
  mean_best=0
  for name in "${NAMES[@]}"; do
    ours "$name" && continue
    m=$(mean_of "$row" "$name")
    [[ -n $m ]] && ((m > mean_best)) && mean_best=$m
  done
  line="| $c | $(human_size "$size") |$cells $(ratio "$rfc" "$best") | $(ratio "$(mean_of "$row" rfc6455)" "$mean_best") |"
  if [[ $CONTROL == 1 ]]; then
    line+=" $(ratio "${RATE[$row/control]:-}" "$rfc") | $(ratio "$(mean_of "$row" control)" "$(mean_of "$row" rfc6455)") |"
  fi
  if [[ $MINIMAL == 1 ]]; then
    line+=" $(ratio "$rfc" "${RATE[$row/minimal]:-}") | $(ratio "$(mean_of "$row" rfc6455)" "$(mean_of "$row" minimal)") |"
  fi
  echo "$line"
done

# Paired rounds need two rounds at least for a standard error (a quick run has one).
if ((ROUNDS >= 2)); then
  echo
  echo "The same rates round by round: rfc6455 / each server in the same round (the servers of a round run back to back), the geometric mean over the $ROUNDS rounds ± its standard error; the last column compares rfc6455 with the peers, a ratio counting as above or below 1.00x when more than two standard errors from it: behind the peer with the lowest ratio among any it is behind, ahead of every peer, or else tied (naming the lowest ratio among the peers it is not ahead of). Unlike \"best peer\" above, no maximum over the peers is taken: if all were equally fast, the best of five would still come out a few percent ahead by chance."
  echo
  awk -v names="${NAMES[*]}" -f "$ROOT/benches/peers/e2e_log.awk" -f "$ROOT/benches/peers/e2e_paired.awk" "$LOG"
fi

# With many rounds: how often the best-rounds test passes by chance (e2e_chance.awk).
BLOCK=${BLOCK:-5}
if ((ROUNDS >= 2 * BLOCK)); then
  echo
  echo "How much of the best-rounds ratio is chance: the $ROUNDS rounds cut into blocks of $BLOCK, and for each server the number of blocks in which its best round reached the best round of every peer (for a peer: of rfc6455 and the other peers; the control and the minimal server are tested against the peers only). Servers that all did the same work would each pass in about one block of every $((${#NAMES[@]} - CONTROL - MINIMAL))."
  echo
  awk -v names="${NAMES[*]}" -v block="$BLOCK" -f "$ROOT/benches/peers/e2e_log.awk" \
    -f "$ROOT/benches/peers/e2e_chance.awk" "$LOG"
fi

# A table of server CPU times per message: $1 the title, $2 the name of the array (row/name ->
# the lowest of the rounds).
cpu_table() {
  local -n times=$2
  echo
  echo "$1"
  echo
  echo "| C | size |$(printf ' %s |' "${NAMES[@]}") best peer / rfc6455 |"
  echo "|---|---|$(printf -- '---:|%.0s' "${NAMES[@]}")---:|"
  for row in $ROWS; do
    c=${row%%:*}
    size=${row##*:}
    cells=""
    best=""
    for name in "${NAMES[@]}"; do
      v=${times[$row/$name]:-}
      cells+=" ${v:--} |"
      if ! ours "$name" && lower "$v" "$best"; then best=$v; fi
    done
    rfc=${times[$row/rfc6455]:-}
    echo "| $c | $(human_size "$size") |$cells $(ratio "$best" "$rfc") |"
  done
}
cpu_table "Server CPU time per message, microseconds (user + system, all threads; lowest of $ROUNDS runs; ratio above 1: rfc6455 uses less CPU)" CPU
cpu_table "The user-space part of it (utime: the WebSocket library, its runtime and the allocator; the rest is the kernel's socket reads and writes, epoll and wake-ups), microseconds per message (lowest of $ROUNDS runs, taken on its own, so not always the round of the total above; 10 ms ticks, so a cell of one connection's rows is a count of about 10 ticks; it moves far more between rounds than the total; ratio above 1: rfc6455 uses less)" UCPU
CLIENT_MAX=$(grep -o 'client_cpu_pct=[0-9]*' "$LOG" | cut -d= -f2 | sort -n | tail -n 1)
echo
echo "Cargo profile of the peers' servers and the load client: $PROFILE. rfc6455 server: $RFC_BIN. Load client (echo_load, $THREADS runtime thread(s)): at most ${CLIENT_MAX:--}% of one core in any run."
echo "Builds ${BUILD_SECS} s, load runs ${RUN_SECS} s; raw lines in $LOG."
