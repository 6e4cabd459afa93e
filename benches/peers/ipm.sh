#!/usr/bin/env bash
# Instructions per message of rfc6455's small-message paths, under callgrind (see
# src/bin/small_ipm.rs): each workload runs at 1,000 and 11,000 messages, and the difference
# is divided by 10,000, so fixed costs cancel out.
#
#   benches/peers/ipm.sh [WORKLOAD...]     # default: all of them
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release -p rfc6455-peers --bin small_ipm >&2
BIN=$TARGET/release/small_ipm
count() {
  # Exact names: `run_*` would also match the closures inside them and switch collection off
  # there (callgrind toggles on every matching function).
  valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    --toggle-collect=small_ipm::run_receive --toggle-collect=small_ipm::run_send \
    --toggle-collect=small_ipm::run_sansio \
    "$BIN" "$1" "$2" 2>&1 | sed -nE 's/.*Collected : ([0-9]+).*/\1/p'
}
ALL="rx16 rx16t rx125 rx125t tx16owned tx16borrowed tx125borrowed tx1kborrowed tx16client"
ALL="$ALL tx16clientb sansio16 sansio125 sansio1k"
for w in "${@:-$ALL}"; do
  for one in $w; do
    a=$(count "$one" 1000)
    b=$(count "$one" 11000)
    echo "$one $(((b - a) / 10000))"
  done
done
