#!/usr/bin/env bash
# Run every fuzz target for a while, or replay the committed corpus.
#
#   fuzz/run.sh [SECONDS]   fuzz each target for SECONDS (default 60), one after another
#   fuzz/run.sh --replay    replay fuzz/corpus/<target>/ and fuzz each target briefly
#                           (REPLAY_SECONDS, default 15)
#   FUZZ_TARGETS="connection round_trip" fuzz/run.sh 300   only these targets
#
# cargo-fuzz needs nightly-only flags; RUSTC_BOOTSTRAP=1 lets a stable toolchain accept them.
# New inputs go to fuzz/target/corpus/<target>/ (ignored by git), so the committed corpus
# stays small; crashes go to fuzz/artifacts/<target>/ and make the script fail.
set -euo pipefail

cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

# FUZZ_TARGETS="a b" limits the run to some targets.
read -r -a TARGETS <<< "${FUZZ_TARGETS:-frame_header frame_decoder handshake_server handshake_client connection fixed round_trip deflate utf8}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

replay=false
seconds=${1:-60}
if [[ "${1:-}" == "--replay" ]]; then
    replay=true
    seconds=${REPLAY_SECONDS:-15}
fi

cargo fuzz build

status=0
for target in "${TARGETS[@]}"; do
    work="target/corpus/$target"
    mkdir -p "$work" "artifacts/$target"
    if $replay; then
        dirs=("corpus/$target")
        if [[ -d "../tests/regressions/$target" ]]; then
            dirs+=("../tests/regressions/$target")
        fi
        echo "== $target: replaying ${dirs[*]}" >&2
        # -runs=0 executes every input of the given directories once and exits.
        if ! cargo fuzz run "$target" "${dirs[@]}" -- -runs=0; then
            echo "!! $target: a committed corpus input fails" >&2
            status=1
            continue
        fi
    fi
    echo "== $target: fuzzing for ${seconds}s" >&2
    if ! cargo fuzz run "$target" "$work" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1; then
        echo "!! $target: crash, see fuzz/artifacts/$target/" >&2
        status=1
    fi
done
exit $status
