#!/usr/bin/env python3
"""Write BENCHMARKS.md from one run of the comparison (stdlib only; bench.sh calls it).

    python3 benches/peers/report.py --compare target/peers-compare.jsonl \
        [--e2e target/peers-e2e.md] [--command "benches/peers/bench.sh"] \
        [--load "before: …; after: …"] [--out BENCHMARKS.md]

--compare: the JSON lines written by `cargo bench -p rfc6455-peers --bench compare` (one
record per workload, row and peer: bytes of payload per iteration, best ns per iteration,
GiB/s). --e2e: the markdown that e2e.sh printed (pasted as is). Without --out it prints.

Every table has one row per workload row, one column per peer (GiB/s of payload), then the
ratios of rfc6455 to the best full-protocol ("validating") peer and to the best frame codec
of that row (above 1: rfc6455 is faster). Receive rows also show the machine's bound for the
same bytes: one copy plus one u64 XOR pass (plus simdutf8 for text), combined as
1 / (1/copy + 1/xor [+ 1/utf8]) from the kernel rows of the same run and size.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
from pathlib import Path

OURS = "rfc6455"
VALIDATING = ["tungstenite", "fastwebsockets", "tokio-websockets", "sockudo-ws", "yawc"]
CODECS = ["embedded-websocket", "websocket-sans-io"]
PEERS = [OURS] + VALIDATING + CODECS
KERNELS = ["memcpy", "xor-u64", "simdutf8", "rfc6455-apply_mask"]

WORKLOADS = [
    ("receive", "1. Receive (server role: masked input), whole messages"),
    ("fragmented", "2. Receive fragmented text (server role), whole messages"),
    ("server-send", "3. Server send (unmasked), one message at a time, output drained after each"),
    ("client-send", "4. Client send (masked with a fresh random key per message)"),
]


def rate(v):
    if v is None:
        return "-"
    if v < 0.1:
        return f"{v:.3f}"
    return f"{v:.2f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


FAILED = {}


def load(path):
    data = {}
    order = {}
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        key = (r["workload"], r["row"])
        order.setdefault(r["workload"], [])
        if key[1] not in order[r["workload"]]:
            order[r["workload"]].append(key[1])
        if "failed" in r:
            FAILED[(r["workload"], r["row"], r["peer"])] = r["failed"]
            data.setdefault(key, {})
            continue
        data.setdefault(key, {})[r["peer"]] = r["gib_s"]
    return data, order


def size_of(row):
    # "binary 64 KiB", "text 1 KiB in 4 frames", "16 B" -> "64 KiB", ...
    words = row.split()
    for i, w in enumerate(words):
        if w in ("B", "KiB", "MiB") and i > 0:
            return f"{words[i - 1]} {w}"
    return row


def bound(kernels, size, text):
    k = kernels.get(("kernel", size))
    if not k or not k.get("memcpy") or not k.get("xor-u64"):
        return None
    inv = 1 / k["memcpy"] + 1 / k["xor-u64"]
    if text:
        if not k.get("simdutf8"):
            return None
        inv += 1 / k["simdutf8"]
    return 1 / inv


def best_of(cells, names):
    present = [(cells[n], n) for n in names if cells.get(n) is not None]
    if not present:
        return None, None
    v, n = max(present)
    return v, n


def table(data, order, workload, kernels):
    rows = order.get(workload, [])
    if not rows:
        return ["(not run)"]
    peers = [
        p
        for p in PEERS
        if any(p in data[(workload, r)] or (workload, r, p) in FAILED for r in rows)
    ]
    with_bound = workload in ("receive", "fragmented")
    head = ["row"] + peers + ["best validating", "rfc6455 / it", "best codec", "rfc6455 / it"]
    if with_bound:
        head += ["copy+XOR(+UTF-8) bound", "rfc6455 / bound"]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for r in rows:
        cells = data[(workload, r)]
        ours = cells.get(OURS)
        bv, bn = best_of(cells, VALIDATING)
        cv, cn = best_of(cells, CODECS)
        line = [r] + [
            "fails" if (workload, r, p) in FAILED else rate(cells.get(p)) for p in peers
        ]
        line += [f"{bn} {rate(bv)}" if bn else "-", ratio(ours, bv)]
        line += [f"{cn} {rate(cv)}" if cn else "-", ratio(ours, cv)]
        if with_bound:
            b = bound(kernels, size_of(r), r.startswith("text"))
            line += [rate(b), ratio(ours, b)]
        out.append("| " + " | ".join(line) + " |")
    notes = [(r, p, why) for (w, r, p), why in FAILED.items() if w == workload]
    if notes:
        out.append("")
        for r, p, why in notes:
            out.append(f"- {p} fails its check in `{r}`: {why}")
    return out


def kernel_table(data, order):
    rows = order.get("kernel", [])
    if not rows:
        return ["(not run)"]
    head = ["size"] + KERNELS + ["copy+XOR bound", "copy+XOR+UTF-8 bound"]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for r in rows:
        cells = data[("kernel", r)]
        line = [r] + [rate(cells.get(k)) for k in KERNELS]
        line += [rate(bound(data, r, False)), rate(bound(data, r, True))]
        out.append("| " + " | ".join(line) + " |")
    return out


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:  # noqa: BLE001 - machine facts are best effort
        return ""


def machine():
    model = sh("lscpu | sed -n 's/^Model name: *//p'") or platform.processor()
    cores = sh("nproc")
    flags = sh("grep -m1 -o -w -E 'avx512f|avx2' /proc/cpuinfo | sort -u | tr '\\n' ' '")
    mem = sh("free -g | awk '/^Mem:/ {print $2}'")
    kernel = platform.release()
    rustc = sh("rustc -V")
    commit = sh("git rev-parse --short HEAD")
    return model, cores, flags.strip(), mem, kernel, rustc, commit


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compare", required=True)
    ap.add_argument("--e2e")
    ap.add_argument("--command", default="benches/peers/bench.sh")
    ap.add_argument("--mode", default="full")
    ap.add_argument("--load", default="")
    ap.add_argument("--versions", default="")
    ap.add_argument("--out")
    a = ap.parse_args()

    data, order = load(a.compare)
    kernels = {k: v for k, v in data.items() if k[0] == "kernel"}
    model, cores, flags, mem, kernel, rustc, commit = machine()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    md = ["# Benchmarks: rfc6455 against the crates a user would pick instead", ""]
    md.append(
        "Generated by `benches/peers/bench.sh` (the workspace member `benches/peers`, see its "
        "README). Do not edit by hand: rerun the script."
    )
    md.append("")
    md.append(f"- Date: {now}; commit `{commit}`; {a.mode} mode")
    md.append(f"- Command: `{a.command}`")
    md.append(f"- Machine: {model}, {cores} cores ({flags}), {mem} GiB, Linux {kernel}; {rustc}")
    if a.load:
        md.append(f"- Load average (1 min) while it ran: {a.load}")
    if a.versions:
        md.append(f"- Peers: {a.versions}")
    md.append("")
    md.append(
        "All in-memory workloads run in one process against the same transport (64 KiB reads "
        "out of a pre-encoded stream, writes into a sink); GiB/s of payload, best batch of "
        "the run. Every contender's output is checked once before it is timed (each received "
        "message's kind and bytes; every sent stream parsed by an independent parser). "
        "**Validating** peers are the full-protocol crates (tungstenite, fastwebsockets, "
        "tokio-websockets, sockudo-ws, yawc with its UTF-8 check switched on); the **frame "
        "codecs** (embedded-websocket, websocket-sans-io) are driven with what their users "
        "add, reassembly into one buffer and a simdutf8 check of text, and nothing more: no "
        "size limits, no RSV or mask-bit checks, no control-frame rules, so they do less work "
        "in every row. Ratios above 1: rfc6455 is faster. The machine is shared: compare "
        "within a table, not across runs."
    )
    md.append("")
    md.append("## 0. The machine's limits (same run)")
    md.append("")
    md.append(
        "GiB/s over the same sizes, in cache for small ones: `memcpy` (`copy_from_slice`), "
        "`xor-u64` (a u64 XOR loop, the bound for masking), `simdutf8` (basic API over the "
        "text payload), rfc6455's `apply_mask` for reference; the bounds combine copy and XOR "
        "(and UTF-8) as passes one after the other."
    )
    md.append("")
    md += kernel_table(data, order)
    for w, title in WORKLOADS:
        md.append("")
        md.append(f"## {title}")
        md.append("")
        if w in ("server-send", "client-send"):
            md.append(
                "`owned` rows: the caller hands over a refcounted `Bytes` (tungstenite, "
                "tokio-websockets, sockudo-ws and yawc only have this API; rfc6455 "
                "`send(Message)`); `borrowed` rows: the caller keeps a `&[u8]` (rfc6455 "
                "`send_binary`, fastwebsockets `Payload::Borrowed`, the codecs)."
            )
            md.append("")
        md += table(data, order, w, kernels)
    md.append("")
    md.append("## 5. End-to-end echo over loopback (C connections, round trips)")
    md.append("")
    if a.e2e and Path(a.e2e).exists():
        md.append(
            "`benches/peers/e2e.sh`: every server in its own process, one load client; "
            "the frame codecs have no server and are not in it."
        )
        md.append("")
        md += [line for line in Path(a.e2e).read_text().splitlines()]
    else:
        md.append("(not run)")
    text = "\n".join(md) + "\n"
    if a.out:
        Path(a.out).write_text(text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
