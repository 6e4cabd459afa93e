#!/usr/bin/env python3
"""Write BENCHMARKS.md from one run of the comparison (stdlib only; bench.sh calls it).

    # or only section 6 (permessage-deflate) into an existing BENCHMARKS.md:
    python3 benches/peers/report.py --compare target/peers-deflate.jsonl --splice BENCHMARKS.md \
        [--profile peers]

    python3 benches/peers/report.py --compare target/peers-compare.jsonl \
        [--e2e target/peers-e2e.md] [--command "benches/peers/bench.sh"] \
        [--load "before: …; after: …"] [--out BENCHMARKS.md]

--compare: the JSON lines written by `cargo bench --profile peers -p rfc6455-peers --bench
compare` (one record per workload, row and peer: bytes of payload per iteration, best ns per
iteration, GiB/s). --e2e: the markdown that e2e.sh printed (pasted as is). Without --out it prints.

Every table has one row per workload row, one column per peer (GiB/s of payload), then the
ratios of rfc6455 to the best full-protocol ("validating") peer and to the best frame codec
of that row (above 1: rfc6455 is faster). Receive rows also show the machine's bound for the
same bytes: one copy plus one u64 XOR pass (plus simdutf8 for text), combined as
1 / (1/copy + 1/xor [+ 1/utf8]) from the kernel rows of the same run and size. The copy is
`stream-copy`, the copy of the row's own stream that every receiver's reads make; the ratio to
the bound with `memcpy` (one payload copied between two buffers that stay in cache, which no
receiver of a stream larger than the cache achieves) is shown beside it.
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
# rfc6455 again, its own instance (compare.rs `CONTROL`): never a best peer; control / rfc6455
# is how far the process and machine move a result on their own in that row.
CONTROL = "control"
KERNELS = ["memcpy", "stream-copy", "xor-u64", "simdutf8", "rfc6455-apply_mask"]

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
# The deflate workload: wire bytes / plain bytes of each peer's compressed stream, and the
# compressed sizes per window ("deflate-size" records).
WIRE = {}
SIZES = []
# The level calibration at window 15 ("deflate-level" records).
LEVELS = []


def load(path):
    data = {}
    order = {}
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        if r["workload"] == "deflate-size":
            SIZES.append(r)
            continue
        if r["workload"] == "deflate-level":
            LEVELS.append(r)
            continue
        key = (r["workload"], r["row"])
        if "wire_ratio" in r:
            WIRE[(r["workload"], r["row"], r["peer"])] = r["wire_ratio"]
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


def bound(kernels, size, text, copy="stream-copy"):
    k = kernels.get(("kernel", size))
    if not k or not k.get(copy) or not k.get("xor-u64"):
        return None
    inv = 1 / k[copy] + 1 / k["xor-u64"]
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
        head += ["copy+XOR(+UTF-8) bound", "rfc6455 / bound", "rfc6455 / bound with memcpy"]
    with_control = any(CONTROL in data[(workload, r)] for r in rows)
    if with_control:
        head += ["control / rfc6455"]
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
            hot = bound(kernels, size_of(r), r.startswith("text"), "memcpy")
            line += [rate(b), ratio(ours, b), ratio(ours, hot)]
        if with_control:
            line += [ratio(cells.get(CONTROL), ours)]
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
    head += ["the same with memcpy", "the same with memcpy, UTF-8"]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for r in rows:
        cells = data[("kernel", r)]
        line = [r] + [rate(cells.get(k)) for k in KERNELS]
        line += [rate(bound(data, r, False)), rate(bound(data, r, True))]
        line += [rate(bound(data, r, False, "memcpy")), rate(bound(data, r, True, "memcpy"))]
        out.append("| " + " | ".join(line) + " |")
    return out


DEFLATE_PEERS = [OURS, "sockudo-ws", "yawc"]
DEFLATE_TITLE = "6. permessage-deflate: compress and decompress, compressed sizes"


def deflate_section(data, order):
    """Section 6: the `deflate` and `deflate-size` workloads (markdown lines)."""
    md = [f"## {DEFLATE_TITLE}", ""]
    rows = order.get("deflate", [])
    if not rows and not SIZES and not LEVELS:
        return md + ["(not run)"]
    md.append(
        "`cargo bench --profile peers -p rfc6455-peers --bench compare deflate`. MB/s (10^6 bytes) of "
        "*uncompressed* data, the 10th percentile of the run's 1 ms batches. **compress**: a server sends 256 KiB of "
        "distinct messages (JSON-like event records, or random bytes) with permessage-deflate, "
        "context takeover, output drained after each; every stream is parsed and inflated "
        "with C zlib and compared with what was sent. **decompress**: a server receives the "
        "same messages as a browser sends them (C zlib level 6, window 15, masked, RSV1) and "
        "every message is compared. Each peer runs its defaults: rfc6455 level 3, window 14 "
        "(raw when compressing does not shrink a message), sockudo-ws and yawc level 6, window "
        "15 (all on zlib-rs; yawc's flate2 resolves to zlib-rs in this build). `wire/plain`: "
        "the compressed stream's size over the messages' (frame headers included), so the "
        "levels' trade-off shows."
    )
    md.append("")
    if rows:
        head = (
            ["row"]
            + [f"{p} MB/s" for p in DEFLATE_PEERS]
            + ["best peer", "rfc6455 / it"]
            + [f"{p} wire/plain" for p in DEFLATE_PEERS]
        )
        md.append("| " + " | ".join(head) + " |")
        md.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
        for r in rows:
            cells = data[("deflate", r)]
            mb = {p: cells[p] * (1 << 30) / 1e6 for p in DEFLATE_PEERS if cells.get(p) is not None}
            bv, bn = best_of(mb, DEFLATE_PEERS[1:])
            line = [r]
            for p in DEFLATE_PEERS:
                if ("deflate", r, p) in FAILED:
                    line.append("fails")
                else:
                    line.append(f"{mb[p]:.0f}" if p in mb else "-")
            line += [f"{bn} {bv:.0f}" if bn else "-", ratio(mb.get(OURS), bv)]
            for p in DEFLATE_PEERS:
                w = WIRE.get(("deflate", r, p))
                line.append(f"{w:.3f}" if w is not None else "-")
            md.append("| " + " | ".join(line) + " |")
        notes = [(r, p, why) for (w, r, p), why in FAILED.items() if w == "deflate"]
        if notes:
            md.append("")
            for r, p, why in notes:
                md.append(f"- {p} fails its check in `{r}`: {why}")
    if SIZES:
        zlib = SIZES[0].get("zlib", "?")
        level = SIZES[0].get("level", "?")
        md.append("")
        md.append(
            f"Compressed sizes: the same 256 KiB of JSON-like text in 1 KiB and 64 KiB messages, "
            f"context takeover, bytes on the wire (frame headers included) at each window: "
            f"rfc6455's compressor (the window forced) against C zlib "
            f"{zlib} (memLevel 8), both at rfc6455's default level and at level 6; the ratios are "
            f"rfc6455 over zlib at the same level (below 1: smaller)."
        )
        md.append("")
        bits = sorted({r["bits"] for r in SIZES})
        head = ["messages", "compressor"] + [f"w{b}" for b in bits]
        md.append("| " + " | ".join(head) + " |")
        md.append("|" + "|".join(["---", "---"] + ["---:"] * len(bits)) + "|")
        for row in dict.fromkeys(r["row"] for r in SIZES):
            by = {r["bits"]: r for r in SIZES if r["row"] == row}
            plain = next(iter(by.values()))["plain"]
            for label, key in [
                (f"rfc6455 level {level} (its default)", "rfc6455"),
                (f"zlib level {level}", "zlib_same_level"),
                ("rfc6455 level 6", "rfc6455_6"),
                ("zlib level 6", "zlib_6"),
            ]:
                if key not in next(iter(by.values())):
                    continue
                md.append(
                    "| " + " | ".join([f"{row} (of {plain})", label] + [str(by[b][key]) for b in bits]) + " |"
                )
            md.append(
                "| "
                + " | ".join(
                    [row, f"rfc6455 / zlib level {level}"]
                    + [f"{by[b]['rfc6455'] / by[b]['zlib_same_level']:.3f}" for b in bits]
                )
                + " |"
            )
            if "rfc6455_6" in next(iter(by.values())):
                md.append(
                    "| "
                    + " | ".join(
                        [row, "rfc6455 / zlib, level 6"]
                        + [f"{by[b]['rfc6455_6'] / by[b]['zlib_6']:.3f}" for b in bits]
                    )
                    + " |"
                )
    md += levels_table()
    return md


def levels_table():
    """The level calibration at window 15 (`deflate-level` records), markdown lines."""
    if not LEVELS:
        return []
    zlib = LEVELS[0].get("zlib_version", "?")
    rows = list(dict.fromkeys(r["row"] for r in LEVELS))
    by = {(r["row"], r["level"]): r for r in LEVELS}
    levels = sorted({r["level"] for r in LEVELS})
    md = [
        "",
        "Levels at window 15 (`cargo bench --profile peers -p rfc6455-peers --bench compare deflate-level`): "
        "rfc6455's level N (which compresses with the zlib-rs level in the second column) "
        f"against C zlib {zlib} at level N (memLevel 8), bytes on the wire (frame headers "
        "included) of 256 KiB of JSON-like text and of log text, each in 1 KiB and 64 KiB "
        "messages, context takeover. PASS: rfc6455's output is at most 1.02x zlib's on every "
        "corpus. Compress MB/s: same run, best of a few passes over the corpus (indicative "
        "only; the table above is the measured comparison).",
        "",
    ]
    speed = [row for row in rows if row.startswith("json")] or rows[:1]
    head = (
        ["level", "zlib-rs level"]
        + [f"{row}: rfc6455 / zlib" for row in rows]
        + ["<= 1.02x zlib"]
        + [f"compress MB/s {row}: rfc6455 / zlib" for row in speed]
    )
    md.append("| " + " | ".join(head) + " |")
    md.append("|" + "|".join(["---:"] * len(head)) + "|")
    for level in levels:
        cells = [by[(row, level)] for row in rows if (row, level) in by]
        mapped = sorted({c["zlib_rs_level"] for c in cells})
        line = [str(level), "/".join(str(m) for m in mapped)]
        worst = 0.0
        for row in rows:
            c = by.get((row, level))
            if c is None:
                line.append("-")
                continue
            ratio = c["rfc6455"] / c["zlib"]
            worst = max(worst, ratio)
            line.append(f"{c['rfc6455']} / {c['zlib']} = {ratio:.3f}")
        line.append(("PASS" if worst <= 1.02 else "FAIL") + f" (worst {worst:.3f})")
        for row in speed:
            c = by.get((row, level), {})
            if "rfc6455_mb_s" in c:
                line.append(f"{c['rfc6455_mb_s']:.0f} / {c['zlib_mb_s']:.0f}")
            else:
                line.append("-")
        md.append("| " + " | ".join(line) + " |")
    md += [
        "",
        "What the level table is chosen from: bytes on the wire of zlib-rs at each of its own "
        "levels (zlib-ng's table: 1 `deflate_quick`, 2 `deflate_fast`, 3-6 `deflate_medium`, "
        "7-9 `deflate_slow`) and of C zlib at each of its levels (1-3 `deflate_fast`, 4-9 "
        "`deflate_slow`), same messages.",
        "",
    ]
    head = ["messages", "compressor"] + [f"level {lv}" for lv in levels]
    md.append("| " + " | ".join(head) + " |")
    md.append("|" + "|".join(["---", "---"] + ["---:"] * len(levels)) + "|")
    for row in rows:
        plain = by[(row, levels[0])]["plain"]
        for label, key in [("zlib-rs", "zlib_rs_same"), (f"C zlib {zlib}", "zlib")]:
            line = [f"{row} (of {plain})", label]
            line += [str(by[(row, level)][key]) for level in levels]
            md.append("| " + " | ".join(line) + " |")
    return md


def splice(path, section):
    """Replace (or append) section 6 of an existing BENCHMARKS.md, keeping the others."""
    lines = Path(path).read_text().splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith("## 6. permessage-deflate")), None)
    if start is None:
        while lines and not lines[-1].strip():
            lines.pop()
        lines += [""] + section
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines = lines[:start] + section + ([""] if end < len(lines) else []) + lines[end:]
    Path(path).write_text("\n".join(lines) + "\n")


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:  # noqa: BLE001 - machine facts are best effort
        return ""


# What the profiles bench.sh builds with mean (the root Cargo.toml defines `peers`).
PROFILES = {
    "peers": " (release with fat LTO and one codegen unit)",
    "release": " (plain release: thin local LTO, 16 codegen units)",
}


def caches():
    """Core 0's unified caches as "L2 512 KiB 8-way per core, L3 32 MiB 16-way shared by 2"
    (sysfs; lscpu's "1 MiB (2 instances)" is the sum over cores, easily read as per core)."""
    out = []
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level, kind, size, ways, shared = (
                (index / f).read_text().strip()
                for f in ("level", "type", "size", "ways_of_associativity", "shared_cpu_list")
            )
        except OSError:
            continue
        if kind != "Unified":
            continue
        try:
            size = size.replace("K", " KiB").replace("M", " MiB")
            if size.endswith(" KiB") and int(size.split()[0]) % 1024 == 0:
                size = f"{int(size.split()[0]) // 1024} MiB"
            cpus = sum(
                int(b) - int(a) + 1 if "-" in r else 1
                for r in shared.split(",")
                for a, _, b in [r.partition("-")]
            )
        except ValueError:  # a format this does not know: leave the cache out
            continue
        who = "per core" if cpus == 1 else f"shared by {cpus} cores"
        out.append(f"L{level} {size} {ways}-way {who}")
    return ", ".join(out)


def machine():
    model = sh("lscpu | sed -n 's/^Model name: *//p'") or platform.processor()
    cache = caches()
    if cache:
        model = f"{model} ({cache})"
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
    ap.add_argument("--memcpy", default="", help="GLIBC_TUNABLES of the in-memory run")
    ap.add_argument("--load", default="")
    ap.add_argument("--versions", default="")
    ap.add_argument("--profile", default="", help="the cargo profile of every contender")
    ap.add_argument("--out")
    ap.add_argument(
        "--splice",
        help="only write section 6 (permessage-deflate) from --compare into this existing "
        "file, replacing that section and keeping every other",
    )
    a = ap.parse_args()

    data, order = load(a.compare)
    if a.splice:
        model, cores, flags, mem, kernel, rustc, commit = machine()
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        section = deflate_section(data, order)
        section[1:1] = [
            "",
            f"Run separately from sections 0–5: {now}, commit `{commit}`, {a.mode} mode, "
            f"`{a.command}`; {model}, {cores} cores, {rustc}."
            + (f" Cargo profile `{a.profile}`." if a.profile else "")
            + (f" Load average: {a.load}." if a.load else ""),
        ]
        splice(a.splice, section)
        return
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
    if a.memcpy:
        md.append(
            f"- The in-memory run's memcpy: `GLIBC_TUNABLES={a.memcpy}` (set by bench.sh: glibc's "
            "`rep movsb` runs about ten times slower when a destination lies a few bytes after "
            "its source modulo 64, which the heap layout decides per reader)"
        )
    md.append(f"- Machine: {model}, {cores} cores ({flags}), {mem} GiB, Linux {kernel}; {rustc}")
    if a.profile:
        md.append(
            f"- Build: cargo profile `{a.profile}` for every contender the script builds"
            f"{PROFILES.get(a.profile, '')}; section 5 names the rfc6455 server it ran"
        )
    if a.load:
        md.append(f"- Load average (1 min) while it ran: {a.load}")
    if a.versions:
        md.append(f"- Peers: {a.versions}")
    md.append("")
    md.append(
        "All in-memory workloads run in one process against the same transport (64 KiB reads "
        "out of a pre-encoded stream, writes into one sink shared by every contender); GiB/s "
        "of payload, the 10th percentile of "
        "the run's 1 ms batches (contenders taking turns batch by batch). Every contender's output is checked once before it is timed (each received "
        "message's kind and bytes; every sent stream parsed by an independent parser). "
        "**Validating** peers are the full-protocol crates (tungstenite, fastwebsockets, "
        "tokio-websockets, sockudo-ws, yawc with its UTF-8 check switched on); the **frame "
        "codecs** (embedded-websocket, websocket-sans-io) are driven with what their users "
        "add, reassembly into one buffer and a simdutf8 check of text, and nothing more: no "
        "size limits, no RSV or mask-bit checks, no control-frame rules, so they do less work "
        "in every row. Ratios above 1: rfc6455 is faster. The machine is shared: compare "
        "within a table, not across runs. **Control**: rfc6455 a second time, its own "
        "instance of the same job (its own connection, buffers and memory pages), taking its "
        "turns like every peer and never a row's best peer; the last column, control / "
        "rfc6455, is how far this process moves two identical contenders apart in that row. "
        "A ratio to a peer that is within that distance of 1.00x is a tie, not a result."
    )
    md.append("")
    md.append("## 0. The machine's limits (same run)")
    md.append("")
    md.append(
        "GiB/s of payload over the same sizes: `memcpy` (`copy_from_slice` of one payload "
        "between the same two buffers every time, so they stay in whatever cache holds "
        "both), `stream-copy` (the receive rows' own stream, headers included, copied once "
        "in 64 KiB reads into one buffer that holds a frame: the copy every receiver's "
        "socket reads make; at 1 MiB the stream is 2 MiB, which with the buffer beside it "
        "outgrows a core's L2 cache on the machine above), `xor-u64` (a u64 XOR loop, the "
        "bound for masking), `simdutf8` (basic API over the text payload), rfc6455's "
        "`apply_mask` for reference. The bounds combine the stream copy and XOR (and UTF-8) "
        "as passes one after the other (the fragmented rows use the one-frame stream's copy: "
        "their own streams have 2-3 % more header bytes); the last two columns use `memcpy` "
        "instead, the bound before `stream-copy` existed."
    )
    md.append("")
    md += kernel_table(data, order)
    for w, title in WORKLOADS:
        md.append("")
        md.append(f"## {title}")
        md.append("")
        if w in ("receive", "fragmented"):
            md.append(
                "`owned` rows: each message is handed out owned (rfc6455 `poll_event`, a "
                "`Bytes` split off the read buffer; the full-protocol peers, fastwebsockets' "
                "payload included, a `BytesMut` split off its buffer); `borrowed` rows: the "
                "payload is lent, with no reference count (rfc6455 `receive_into_with` with "
                "`Config::lend_whole_messages`: every message gathered in its read buffer, as "
                "for an owned one, and lent whole; the codecs: embedded-websocket "
                "unmasks into the caller's message buffer, websocket-sans-io in its read "
                "buffer, where a message whose payload comes in one chunk is used in place "
                "and any other is collected in a reused `Vec`)."
            )
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
    md.append("")
    md += deflate_section(data, order)
    text = "\n".join(md) + "\n"
    if a.out:
        Path(a.out).write_text(text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
