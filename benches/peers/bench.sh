#!/usr/bin/env bash
# The whole comparison in one run, written to BENCHMARKS.md at the repository root:
# the in-memory workloads and the machine's limits (benches/compare.rs, seven peers), then the
# end-to-end echo over loopback (e2e.sh, the five peers with servers, a control and the
# minimal server), then report.py.
#
#   benches/peers/bench.sh           # full: about 15 min plus the builds (5 in memory, 9 e2e)
#   benches/peers/bench.sh --quick   # short samples: about 2 min plus the builds
#
# Every contender is built with the cargo profile PROFILE: `peers` unless set (the root's
# release with fat LTO and one codegen unit; `PROFILE=release` for a plain release build).
#
# Environment: OUT (default BENCHMARKS.md in the repository root), PROFILE, and whatever
# compare.rs (ROUNDS, SAMPLE_MS) and e2e.sh (SECS, WARMUP, ROUNDS, ROWS, ...) read. Intermediate files go
# to $CARGO_TARGET_DIR or target/: peers-compare.jsonl, peers-e2e.md, peers-e2e.log.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=${OUT:-$ROOT/BENCHMARKS.md}
QUICK=0
export PROFILE=${PROFILE:-peers}
[[ ${1:-} == --quick ]] && QUICK=1
COMMAND="benches/peers/bench.sh$(if [[ $QUICK == 1 ]]; then echo ' --quick'; fi)"

log() { echo "bench: $*" >&2; }
load1() { cut -d' ' -f1 /proc/loadavg; }

T0=$SECONDS
log "building (profile $PROFILE): the peers' servers, the load client, the comparison"
cargo build --profile "$PROFILE" -p rfc6455-peers --bins
cargo bench --profile "$PROFILE" -p rfc6455-peers --bench compare --no-run
LOAD_START=$(load1)

# glibc's memcpy copies 2 KiB and more with `rep movsb` on this CPU, which runs about ten
# times slower when the destination lies a few bytes after the source modulo 64 (64 KiB
# copies: 2.7-2.8 GiB/s instead of 24-28). Which reader's buffer lands there relative to the
# harness's stream is an accident of heap layout (rfc6455's text 1 MiB owned receive: 3.57
# GiB/s with it, 8.56 without), so the in-memory run copies with glibc's vector loop at every
# size (27-37 GiB/s at every alignment), for every contender alike.
MEMCPY_TUNABLE=glibc.cpu.x86_rep_movsb_threshold=4194304
log "in-memory workloads and kernels (GLIBC_TUNABLES=$MEMCPY_TUNABLE)"
GLIBC_TUNABLES=${GLIBC_TUNABLES:-$MEMCPY_TUNABLE} QUICK=$QUICK OUT=$TARGET/peers-compare.jsonl \
  cargo bench --profile "$PROFILE" -p rfc6455-peers --bench compare
LOAD_MID=$(load1)

log "end-to-end echo"
if [[ $QUICK == 1 ]]; then
  export SECS=${SECS:-1} WARMUP=${WARMUP:-0.3} ROUNDS=${ROUNDS:-1}
fi
benches/peers/e2e.sh >"$TARGET/peers-e2e.md"
LOAD_END=$(load1)

VERSIONS=$(cargo tree -p rfc6455-peers -e normal,dev --depth 1 --prefix none 2>/dev/null |
  grep -E '^(tungstenite|fastwebsockets|tokio-websockets|sockudo-ws|yawc|embedded-websocket|websocket-sans-io|simdutf8) v' |
  sort -u | tr '\n' ',' | sed 's/,$//; s/,/, /g' || true)

python3 benches/peers/report.py --compare "$TARGET/peers-compare.jsonl" \
  --e2e "$TARGET/peers-e2e.md" --command "$COMMAND" \
  --memcpy "${GLIBC_TUNABLES:-$MEMCPY_TUNABLE}" \
  --mode "$([[ $QUICK == 1 ]] && echo quick || echo full)" \
  --load "$LOAD_START at the start, $LOAD_MID after the in-memory workloads, $LOAD_END at the end" \
  --versions "$VERSIONS" --profile "$PROFILE" --out "$OUT"
log "wrote $OUT in $((SECONDS - T0)) s"
