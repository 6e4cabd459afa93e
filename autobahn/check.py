#!/usr/bin/env python3
"""Autobahn|Testsuite helpers for rfc6455's CI (Python 3 standard library only).

Works on the report directory of either runner: kosoku (PyPI, Python 3) or the
canonical `wstest` (crossbario/autobahn-testsuite Docker image). Both write an
`index.json` shaped `{agent: {case_id: {"behavior", "behaviorClose", ...}}}` plus
one `<agent>_case_<id>.json` per case.

Subcommands
  spec SPEC FIELD [--reports-dir DIR] [--cases "GLOB ..."]
      Read an Autobahn spec file (fuzzingclient.json / fuzzingserver.json) and
      print one FIELD: `url`, `hostport`, `agent`, `outdir` (a `/reports/...`
      container path is mapped under DIR), or `kosoku-args` (the `-i`/`-x`
      options equivalent to "cases"/"exclude-cases", one per line), since
      kosoku 0.1.0 rejects `--spec`.
  check REPORT_DIR --role server|client --golden expected.json [--timing] [--subset]
        [--golden-refusals]
      Print the count of cases per verdict, list every case that is not
      strictly OK, compare with the golden file. Exit 0 only if every case is
      strictly OK (see ALWAYS_INFORMATIONAL) and the results equal the golden
      file for that role. With --golden-refusals (examples/no_alloc, whose
      fixed memory refuses messages over 1 MiB with 1009), a case of the
      allow-list (9.1.4-6, 9.2.4-6, 9.3.*, 9.4.*: REFUSABLE_CASES) that the
      golden file lists with another verdict passes when it gets exactly that
      verdict, the server closed it with 1009, and what the report records of
      the echo before the refusal is right (see refusal_problem: frame kinds and
      counts, no completed message, at most 1 MiB; kosoku keeps no wire log for
      these cases, so the echoed bytes themselves cannot be compared); such
      cases are counted and listed.
  bless REPORT_DIR --role server|client --golden expected.json [--all-ok] [--subset]
      Write the observed verdicts of REPORT_DIR into the golden file's section
      for that role (with --all-ok: the same case ids, every one expected OK).

Golden file: {"server": {case_id: VERDICT}, "client": {...}} where VERDICT is
"OK" (behavior and behaviorClose both "OK"), any other label when both are
equal, or {"behavior": ..., "behaviorClose": ...} when they differ.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

# Cases whose verdict the Autobahn case file hard-codes to INFORMATIONAL for
# both behavior and behaviorClose, whatever the peer does (Case7_1_6,
# Case7_13_1, Case7_13_2 set it in onConnectionLost). Identical in wstest and
# kosoku. "OK" is unreachable for them, so they are the only cases allowed (and
# required) to be INFORMATIONAL/INFORMATIONAL; every other case must be OK/OK.
ALWAYS_INFORMATIONAL = frozenset({"7.1.6", "7.13.1", "7.13.2"})

ROLES = ("server", "client")


def case_key(case_id: str) -> list[int]:
    return [int(p) for p in case_id.split(".")]


def die(msg: str, code: int = 2) -> None:
    print(f"check.py: {msg}", file=sys.stderr)
    sys.exit(code)


# ---------------------------------------------------------------- spec files


def load_spec(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        die(f"cannot read spec {path}: {e}")
    raise AssertionError  # unreachable


def spec_url(spec: dict) -> str:
    if "servers" in spec:  # fuzzingclient spec: the servers under test
        servers = spec["servers"]
        if len(servers) != 1:
            die("kosoku drives one server; the spec must list exactly one")
        return servers[0]["url"]
    return spec["url"]  # fuzzingserver spec: where the fuzzer listens


def cmd_spec(args: argparse.Namespace) -> None:
    spec = load_spec(args.spec)
    field = args.field
    if field == "url":
        print(spec_url(spec))
    elif field == "hostport":
        u = urlsplit(spec_url(spec))
        print(f"{u.hostname}:{u.port or 80}")
    elif field == "agent":
        servers = spec.get("servers") or [{}]
        print(servers[0].get("agent", "rfc6455"))
    elif field == "outdir":
        outdir = spec.get("outdir", "./reports")
        # The canonical Docker recipe mounts target/autobahn at /reports: map a
        # container path back to the host directory so both tools agree.
        if args.reports_dir and (outdir == "/reports" or outdir.startswith("/reports/")):
            outdir = os.path.join(args.reports_dir, outdir[len("/reports/"):])
        print(os.path.normpath(outdir))
    elif field == "kosoku-args":
        if spec.get("exclude-agent-cases"):
            die("kosoku has no per-agent exclusion: keep exclude-agent-cases empty")
        cases = args.cases.split() if args.cases else spec.get("cases", ["*"])
        if cases != ["*"]:
            for c in cases:
                print("-i")
                print(c)
        for c in spec.get("exclude-cases", []):
            print("-x")
            print(c)
    else:
        die(f"unknown spec field {field!r}")


# ------------------------------------------------------------------ reports


def load_results(report_dir: str) -> tuple[dict[str, dict], list[str]]:
    """Return ({case_id: index entry + agent + details}, agents)."""
    index_path = Path(report_dir) / "index.json"
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        die(f"no usable report at {index_path}: {e}", 1)
    results: dict[str, dict] = {}
    for agent, cases in index.items():
        for case_id, entry in cases.items():
            entry = dict(entry, agent=agent)
            if case_id in results:
                # kosoku files a case that could not run at all (ERROR) under
                # the URL's authority instead of the Server header: keep the
                # worse of the two.
                prev = results[case_id]
                if is_strict_ok(case_id, prev):
                    results[case_id] = entry
                continue
            results[case_id] = entry
    return results, sorted(index)


def details(report_dir: str, entry: dict) -> dict:
    path = Path(report_dir) / entry.get("reportfile", "")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def verdict(entry: dict):
    b, bc = entry.get("behavior"), entry.get("behaviorClose")
    return b if b == bc else {"behavior": b, "behaviorClose": bc}


def verdict_str(v) -> str:
    if isinstance(v, dict):
        return f"{v.get('behavior')} (close: {v.get('behaviorClose')})"
    return str(v)


def is_strict_ok(case_id: str, entry: dict) -> bool:
    want = "INFORMATIONAL" if case_id in ALWAYS_INFORMATIONAL else "OK"
    return entry.get("behavior") == want and entry.get("behaviorClose") == want


# The only cases a fixed-memory server may refuse with 1009 (--golden-refusals): the
# messages of 4 MiB and more of 9.1 and 9.2 (one frame each), and every case of 9.3 and 9.4
# (4 MiB and more, fragmented). A refusal anywhere else fails, whatever the golden file says.
REFUSABLE_CASES = frozenset({"9.1.4", "9.1.5", "9.1.6", "9.2.4", "9.2.5", "9.2.6"})
REFUSABLE_GROUPS = ("9.3.", "9.4.")


def refusable(case_id: str) -> bool:
    return case_id in REFUSABLE_CASES or case_id.startswith(REFUSABLE_GROUPS)


# examples/no_alloc.rs's MAX_MESSAGE: what it echoes of a message before refusing it.
REFUSAL_LIMIT = 1 << 20


def refusal_problem(report_dir: str, entry: dict):
    """Why a 1009 refusal is not the clean one expected, or None. From the case's report:
    kosoku keeps no wire log for these cases (createWirelog is off), so the bytes echoed
    before the refusal cannot be compared with what was sent; what it does record is checked:
    no message was completed (`received` is empty), the echo is one message's start frame of
    the kind sent and continuations only, then exactly one close; a message sent as one frame
    is refused on its header, before anything is echoed; and the echo holds no more than
    REFUSAL_LIMIT payload bytes (plus at most 14 header bytes per frame)."""
    d = details(report_dir, entry)
    rx, tx = d.get("rxFrameStats") or {}, d.get("txFrameStats") or {}
    sent = [op for op in ("1", "2") if op in tx]
    if d.get("received") != []:
        return "a message was echoed whole before the refusal"
    if len(sent) != 1:
        return f"unexpected frames sent by the test: {tx}"
    if rx.get("8") != 1 or set(rx) - {"0", "8", sent[0]} or rx.get(sent[0], 0) > 1:
        return f"the echo before the refusal is not one message's start: {rx}"
    if "0" in rx and sent[0] not in rx:
        return f"continuations echoed without a start frame: {rx}"
    if "0" not in tx and set(rx) != {"8"}:
        return f"a one-frame message was echoed in part before its refusal: {rx}"
    frames = sum(rx.values())
    octets = sum(int(size) * n for size, n in (d.get("rxOctetStats") or {}).items())
    if octets > REFUSAL_LIMIT + 14 * frames + 125:
        return f"{octets} octets echoed, over the {REFUSAL_LIMIT}-byte limit"
    return None


def refusal_code(report_dir: str, entry: dict):
    """The close code the tested endpoint sent (the runner's "remote"), from the case's report."""
    return details(report_dir, entry).get("remoteCloseCode", entry.get("remoteCloseCode"))


def load_golden(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}
    except ValueError as e:
        die(f"golden file {path} is not JSON: {e}")
    raise AssertionError  # unreachable


def write_golden(path: str, golden: dict) -> None:
    out = {}
    for role in ROLES:
        if role in golden:
            out[role] = dict(sorted(golden[role].items(), key=lambda kv: case_key(kv[0])))
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


def cmd_check(args: argparse.Namespace) -> None:
    role = args.role
    results, agents = load_results(args.report_dir)
    if not results:
        die(f"{role}: the report lists no case", 1)
    ids = sorted(results, key=case_key)

    print(f"== autobahn {role}: {len(ids)} cases, agent(s): {', '.join(agents)}")
    counts = Counter(verdict_str(verdict(results[c])) for c in ids)
    for label, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"   {n:4d}  {label}")
    b_counts = Counter(results[c].get("behavior") for c in ids)
    bc_counts = Counter(results[c].get("behaviorClose") for c in ids)
    print("   behavior:      " + ", ".join(f"{k} {v}" for k, v in sorted(b_counts.items())))
    print("   behaviorClose: " + ", ".join(f"{k} {v}" for k, v in sorted(bc_counts.items())))

    if args.timing:
        slow = sorted(ids, key=lambda c: -int(results[c].get("duration") or 0))[:8]
        total = sum(int(results[c].get("duration") or 0) for c in ids)
        print(f"   sum of case durations: {total / 1000:.1f} s; slowest: "
              + ", ".join(f"{c} {int(results[c].get('duration') or 0)} ms" for c in slow))

    ok = True
    not_strict = [c for c in ids if not is_strict_ok(c, results[c])]
    refused = []
    if args.golden_refusals:
        golden_all = load_golden(args.golden).get(role) or {}
        refused = [c for c in not_strict
                   if refusable(c) and c in golden_all and verdict(results[c]) == golden_all[c]
                   and refusal_code(args.report_dir, results[c]) == 1009]
        for c in refused:
            problem = refusal_problem(args.report_dir, results[c])
            if problem:
                ok = False
                print(f"FAIL {role}: {c} refused with 1009, but {problem}")
        if refused:
            print(f"   {len(refused)} case(s) refused with 1009, as the golden file expects "
                  "(each within the allow-list, its echo before the refusal checked as far as "
                  "the report records it): " + " ".join(refused))
        not_strict = [c for c in not_strict if c not in refused]
    if not_strict:
        ok = False
        print(f"FAIL {role}: {len(not_strict)} case(s) not strictly OK:")
        for c in not_strict:
            e = results[c]
            d = details(args.report_dir, e)
            print(f"   {c}: {verdict_str(verdict(e))} (remote close code {e.get('remoteCloseCode')})"
                  f" -- {d.get('result', '?')} / {d.get('resultClose', '?')}"
                  f"  [{Path(args.report_dir) / e.get('reportfile', '')}]".replace(".json]", ".html]"))

    golden = load_golden(args.golden).get(role)
    if golden is None:
        ok = False
        print(f"FAIL {role}: {args.golden} has no '{role}' section (run.sh --bless writes one)")
    else:
        missing = [] if args.subset else sorted(set(golden) - set(results), key=case_key)
        extra = sorted(set(results) - set(golden), key=case_key)
        changed = [c for c in ids if c in golden and verdict(results[c]) != golden[c]]
        if missing:
            ok = False
            print(f"FAIL {role}: {len(missing)} golden case(s) did not run: {' '.join(missing[:40])}"
                  + (" ..." if len(missing) > 40 else ""))
        if extra:
            ok = False
            print(f"FAIL {role}: {len(extra)} case(s) ran but are not in the golden file: "
                  f"{' '.join(extra[:40])}" + (" ..." if len(extra) > 40 else ""))
        if changed:
            ok = False
            print(f"FAIL {role}: {len(changed)} case(s) differ from the golden file:")
            for c in changed:
                print(f"   {c}: expected {verdict_str(golden[c])}, got {verdict_str(verdict(results[c]))}")
        if not (missing or extra or changed):
            print(f"   matches golden file {args.golden} ({len(ids)} of its {len(golden)} cases compared)")

    strict = len(ids) - len(not_strict) - len(refused)
    print(f"{'PASS' if ok else 'FAIL'}: autobahn {role} ({strict} of {len(ids)} strictly OK"
          + (f", {len(refused)} refused with 1009 as expected)" if refused else ")"))
    sys.exit(0 if ok else 1)


def cmd_bless(args: argparse.Namespace) -> None:
    results, _ = load_results(args.report_dir)
    if not results:
        die("the report lists no case", 1)
    golden = load_golden(args.golden)
    # With --subset only the cases that ran are replaced; the rest are kept.
    section = dict(golden.get(args.role, {})) if args.subset else {}
    for c, e in results.items():
        if args.all_ok:
            section[c] = "INFORMATIONAL" if c in ALWAYS_INFORMATIONAL else "OK"
        else:
            section[c] = verdict(e)
    golden[args.role] = section
    write_golden(args.golden, golden)
    not_ok = 0 if args.all_ok else sum(1 for c in results if not is_strict_ok(c, results[c]))
    print(f"blessed {len(section)} {args.role} case(s) into {args.golden}"
          + (f"; {not_ok} of them not strictly OK (the strict check still fails on those)" if not_ok else ""))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("spec")
    s.add_argument("spec")
    s.add_argument("field", choices=["url", "hostport", "agent", "outdir", "kosoku-args"])
    s.add_argument("--reports-dir")
    s.add_argument("--cases", help="space-separated case globs replacing the spec's \"cases\"")
    s.set_defaults(func=cmd_spec)
    for name, func in (("check", cmd_check), ("bless", cmd_bless)):
        s = sub.add_parser(name)
        s.add_argument("report_dir")
        s.add_argument("--role", choices=ROLES, required=True)
        s.add_argument("--golden", required=True)
        if name == "check":
            s.add_argument("--golden-refusals", action="store_true",
                           help="accept golden non-OK verdicts of cases the server closed with 1009")
        s.add_argument("--subset", action="store_true",
                       help="a subset of the cases ran: check/bless only those, keep the other golden entries")
        if name == "check":
            s.add_argument("--timing", action="store_true", help="print case durations")
        else:
            s.add_argument("--all-ok", action="store_true",
                           help="expect every case OK (INFORMATIONAL where that is the only verdict)")
        s.set_defaults(func=func)
    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
