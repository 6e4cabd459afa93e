#!/usr/bin/env python3
"""Print the peers ratio table from criterion's results (stdlib only).

    cargo bench -p rfc6455-peers --bench peers -- --warm-up-time 1 --measurement-time 3
    python3 benches/peers/report.py [CRITERION_DIR] [--baseline NAME] [--markdown]

CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion, else the workspace's target/criterion
(found from this file's location, so it runs from any directory). For every
benchmark of benches/peers/benches/peers.rs (group "<scenario>/<kind>", function "<library>", parameter
"<size>") it reads <dir>/**/<baseline>/estimates.json (mean point estimate, default baseline
"new") and benchmark.json (the throughput in bytes per iteration), and prints the throughput of
each library and the ratios rfc6455/tungstenite and rfc6455/fastwebsockets (above 1: rfc6455 is
faster).
"""

import json
import os
import sys
from pathlib import Path

LIBS = ["rfc6455", "tungstenite", "fastwebsockets"]
# Variants shown in extra columns when present (send paths: rfc6455's owned `send(Message)`).
EXTRA = ["rfc6455-owned"]
SIZE_ORDER = {"16B": 0, "1KiB": 1, "64KiB": 2, "1MiB": 3}


def load(root: Path, baseline: str):
    rows = {}
    for bench_json in root.glob(f"**/{baseline}/benchmark.json"):
        est_json = bench_json.parent / "estimates.json"
        if not est_json.exists():
            continue
        bench = json.loads(bench_json.read_text())
        est = json.loads(est_json.read_text())
        group = bench.get("group_id", "")
        func = bench.get("function_id")
        size = bench.get("value_str")
        if func not in LIBS + EXTRA or "/" not in group:
            continue
        throughput = bench.get("throughput") or {}
        nbytes = throughput.get("Bytes") or throughput.get("BytesDecimal")
        if not nbytes:
            continue
        mean_ns = est["mean"]["point_estimate"]
        gib_s = nbytes / (mean_ns * 1e-9) / 2**30
        rows.setdefault((group, size), {})[func] = gib_s
    return rows


def fmt_rate(v):
    if v is None:
        return "-"
    return f"{v:.3f}" if v < 1 else f"{v:.2f}"


def fmt_ratio(a, b):
    if a is None or b is None:
        return "-"
    return f"{a / b:.2f}x"


def main(argv):
    markdown = "--markdown" in argv
    baseline = "new"
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == "--baseline":
            baseline = argv[i + 1]
            i += 2
            continue
        if not argv[i].startswith("--"):
            args.append(argv[i])
        i += 1
    if args:
        root = Path(args[0])
    else:
        target = os.environ.get("CARGO_TARGET_DIR")
        if target is None:
            target = Path(__file__).resolve().parent.parent.parent / "target"
        root = Path(target) / "criterion"
    if not root.is_dir():
        sys.exit(f"no criterion results in {root}: run `cargo bench -p rfc6455-peers --bench peers` first")
    rows = load(root, baseline)
    if not rows:
        sys.exit(f"no peers results (baseline {baseline!r}) under {root}")

    extra = [e for e in EXTRA if any(e in r for r in rows.values())]
    header = (["scenario", "size"] + [f"{l} GiB/s" for l in LIBS] + ["rfc/tung", "rfc/fws"]
              + [f"{e} GiB/s" for e in extra] + [f"{e}/tung" for e in extra]
              + [f"{e}/fws" for e in extra])
    table = []
    for (group, size) in sorted(rows, key=lambda k: (k[0], SIZE_ORDER.get(k[1], 99), k[1])):
        r = rows[(group, size)]
        rfc, tung, fws = (r.get(l) for l in LIBS)
        ex = [r.get(e) for e in extra]
        table.append(
            [group, size, fmt_rate(rfc), fmt_rate(tung), fmt_rate(fws),
             fmt_ratio(rfc, tung), fmt_ratio(rfc, fws)]
            + [fmt_rate(v) for v in ex] + [fmt_ratio(v, tung) for v in ex]
            + [fmt_ratio(v, fws) for v in ex]
        )
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" for _ in header) + "|")
        for row in table:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table)]
    line = "  ".join(h.ljust(w) if j < 2 else h.rjust(w) for j, (h, w) in enumerate(zip(header, widths)))
    print(line)
    print("-" * len(line))
    for row in table:
        print("  ".join(c.ljust(w) if j < 2 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))))


if __name__ == "__main__":
    main(sys.argv[1:])
