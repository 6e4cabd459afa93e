#!/usr/bin/env bash
# Instructions per message of rfc6455's small-message paths, under callgrind (see
# src/bin/small_ipm.rs): each workload runs at 1,000 and 11,000 messages, and the difference
# is divided by 10,000, so fixed costs cancel out. Plain release (the counts are compared
# with earlier ipm.sh runs, not with the peers; bench.sh's profile `peers` adds fat LTO).
#
#   benches/peers/ipm.sh [WORKLOAD...]     # default: all of them
#   benches/peers/ipm.sh deflate            # permessage-deflate per level: dfl1k-L, dfl64k-L
#                                           # (100 and 600 / 2 and 6 messages, L = 1..9)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release -p rfc6455-peers --bin small_ipm >&2
BIN=$TARGET/release/small_ipm
count() {
  # Exact names: `run_*` would also match the closures inside them and switch collection off
  # there (callgrind toggles on every matching function).
  valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    --toggle-collect=small_ipm::run_receive --toggle-collect=small_ipm::run_receive_borrowed \
    --toggle-collect=small_ipm::run_embedded --toggle-collect=small_ipm::run_sansio \
    --toggle-collect=small_ipm::run_send --toggle-collect=small_ipm::run_sansio_send \
    --toggle-collect=small_ipm::run_deflate \
    "$BIN" "$1" "$2" 2>&1 | sed -nE 's/.*Collected : ([0-9]+).*/\1/p'
}
if [[ ${1:-} == deflate ]]; then
  for level in 1 2 3 4 5 6 7 8 9; do
    for w in "dfl1k 100 600" "dfl64k 2 6"; do
      read -r name lo hi <<<"$w"
      a=$(count "$name-$level" "$lo")
      b=$(count "$name-$level" "$hi")
      echo "$name-$level $(((b - a) / (hi - lo)))"
    done
  done
  exit 0
fi
ALL="rx16 rx16t rx125 rx125t rx16b rx16tb rx125b rx125tb emb16 emb16t emb125 emb125t"
ALL="$ALL sio16 sio16t sio125 sio125t tx16owned tx16borrowed tx125borrowed tx1kborrowed"
ALL="$ALL tx16client tx16clientb sansio16 sansio125 sansio1k"
for w in "${@:-$ALL}"; do
  for one in $w; do
    a=$(count "$one" 1000)
    b=$(count "$one" 11000)
    echo "$one $(((b - a) / 10000))"
  done
done
