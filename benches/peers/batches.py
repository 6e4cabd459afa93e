#!/usr/bin/env python3
"""Pair the comparison's batches pass by pass (a diagnostic; bench.sh does not run it).

    BATCHES=/tmp/b.tsv ONLY=server-send ROW="binary 16 B borrowed" \
        cargo bench --profile peers -p rfc6455-peers --bench compare
    python3 benches/peers/batches.py /tmp/b.tsv

The compare bench's cell is the 10th percentile of a contender's batches (see LOW_PERCENTILE
in benches/compare.rs). The contenders of a row take turns batch by batch, so batch j of
each contender ran in pass j, next to the others' batch j, on the same machine. This prints,
for each row and peer, rfc6455's speed over the peer's pass by pass (the peer's time over
rfc6455's in the same pass): the 10th, 50th and 90th percentiles of those ratios, next to
the ratio of the two 10th-percentile cells that the report shows.

Why: when the machine moves between states for seconds at a time (on the 2-core VM the
benchmarks ran on, every contender of the 16 B borrowed send row slowed down by 16-64 % in
stretches, rfc6455 the most), the cells of two contenders can land on different sides of
that change, and the report's ratio jumps between runs while the paired ratios stay put;
the spread from the 10th to the 90th percentile shows how far the machine's states pull
a row apart.
"""
import sys
from collections import defaultdict


def percentile(values, q):
    """The q-th percentile (0-100) by the nearest rank below, as compare.rs's cells."""
    values = sorted(values)
    return values[min(len(values) - 1, len(values) * q // 100)]


def main(path):
    rows = defaultdict(dict)  # (workload, row) -> peer -> [ns per iteration, by pass]
    with open(path) as f:
        for line in f:
            workload, row, peer, batches = line.rstrip("\n").split("\t")
            rows[(workload, row)][peer] = [float(ns) for ns in batches.split()]
    print("| workload | row | peer | passes | paired p10 | paired median | paired p90 | cells (report) |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for (workload, row), peers in rows.items():
        ours = peers.get("rfc6455")
        if not ours:
            continue
        for peer, theirs in peers.items():
            if peer == "rfc6455":
                continue
            n = min(len(ours), len(theirs))
            ratios = [theirs[j] / ours[j] for j in range(n)]
            cells = percentile(theirs, 10) / percentile(ours, 10)
            print(
                f"| {workload} | {row} | {peer} | {n} | {percentile(ratios, 10):.2f}x | "
                f"{percentile(ratios, 50):.2f}x | {percentile(ratios, 90):.2f}x | {cells:.2f}x |"
            )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
