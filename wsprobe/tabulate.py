"""Tabulate wsprobe's and kosoku's (Autobahn's) verdicts per category, for compare.sh.

    python tabulate.py OUTDIR NAME...

Reads OUTDIR/wsprobe-NAME.json and OUTDIR/kosoku-NAME/index.json; prints Markdown.

Autobahn gives two verdicts per case, `behavior` and `behaviorClose`; the case's verdict here
is the worse of the two (FAILED > NON-STRICT > OK), with `behaviorClose` WRONG CODE or UNCLEAN
counted as NON-STRICT, and INFORMATIONAL/UNIMPLEMENTED kept as they are. ERROR is kosoku
crashing inside a case (no verdict); it does not count for or against agreement.
"""

import json
import os
import sys
from collections import Counter, defaultdict

# wsprobe category -> the Autobahn case groups that test the same RFC rules.
GROUPS = [
    ("framing", ["1"], "1.* framing"),
    ("reserved", ["3", "4"], "3.* RSV bits, 4.* opcodes"),
    ("control", ["2"], "2.* pings/pongs"),
    ("fragmentation", ["5"], "5.* fragmentation"),
    ("utf8", ["6"], "6.* UTF-8"),
    ("close", ["7"], "7.* close"),
    ("limits", ["9"], "9.* limits/performance"),
    ("slow", [], "- (chopped delivery is inside 1.*-7.*)"),
    ("deflate", ["12", "13"], "12.*, 13.* permessage-deflate"),
    (None, ["10"], "10.* auto-fragmentation"),
]
ORDER = ["OK", "NON-STRICT", "FAILED", "INFORMATIONAL", "ERROR"]
RANK = {"OK": 0, "NON-STRICT": 1, "FAILED": 2, "ERROR": 3}


def autobahn_verdict(case):
    b = case.get("behavior", "?")
    c = case.get("behaviorClose", "OK")
    if b in ("INFORMATIONAL", "UNIMPLEMENTED"):
        return "INFORMATIONAL"
    if b == "ERROR" or c == "ERROR":
        return "ERROR"  # kosoku itself crashed in the case: no verdict
    c = {"WRONG CODE": "NON-STRICT", "UNCLEAN": "NON-STRICT"}.get(c, c)
    b = {"WRONG CODE": "NON-STRICT", "UNCLEAN": "NON-STRICT"}.get(b, b)
    if c == "INFORMATIONAL":
        c = "OK"
    return max([b, c], key=lambda v: RANK.get(v, 2))


def fmt(counter, total):
    if total == 0:
        return "-"
    parts = [f"{counter[v]} {v}" for v in ORDER if counter[v]]
    return f"{total}: " + ", ".join(parts)


def main():
    out, names = sys.argv[1], sys.argv[2:]
    for name in names:
        probe = json.load(open(os.path.join(out, f"wsprobe-{name}.json")))
        wcount = defaultdict(Counter)
        for c in probe["cases"]:
            wcount[c["category"]][c["verdict"]] += 1
        index_path = os.path.join(out, f"kosoku-{name}", "index.json")
        kcount = defaultdict(Counter)
        knotok = defaultdict(list)
        if os.path.exists(index_path):
            index = json.load(open(index_path))
            for agent_cases in index.values():
                for cid, case in agent_cases.items():
                    v = autobahn_verdict(case)
                    kcount[cid.split(".")[0]][v] += 1
                    if v not in ("OK", "INFORMATIONAL"):
                        case_info = f"{cid} {v}"
                        knotok[cid.split(".")[0]].append(case_info)
        print(f"\n### {name}: wsprobe {probe['millis'] / 1000:.2f} s\n")
        print("| wsprobe category | wsprobe verdicts | Autobahn groups | kosoku verdicts | agree |")
        print("|---|---|---|---|---|")
        for cat, groups, label in GROUPS:
            w = wcount.get(cat, Counter()) if cat else Counter()
            k = Counter()
            for g in groups:
                k.update(kcount.get(g, Counter()))
            wt, kt = sum(w.values()), sum(k.values())
            w_bad = w["FAILED"] + w["NON-STRICT"]
            k_bad = k["FAILED"] + k["NON-STRICT"]
            if wt and kt:
                if (w_bad == 0) == (k_bad == 0) and (w["FAILED"] == 0) == (k["FAILED"] == 0):
                    agree = "yes"
                elif (w_bad == 0) == (k_bad == 0):
                    agree = "both flag cases (see notes)"
                else:
                    agree = "**no**"
            else:
                agree = "n/a"
            print(f"| {cat or '-'} | {fmt(w, wt)} | {label} | {fmt(k, kt)} | {agree} |")
        notok = [x for g in sorted(knotok, key=lambda g: int(g)) for x in knotok[g]]
        if notok:
            shown = ", ".join(notok)
            print(f"\nkosoku cases not OK: {shown}")


if __name__ == "__main__":
    main()
