#!/usr/bin/env python3
"""Before/after: two longctx binaries on the same `longctx bench` cases, interleaved.

For each round and case the two binaries run back to back (their order alternating by round),
each writing `bench --json`; the script reports, per case and measure (prefill / decode tok/s
medians of the bench's own repetitions), the medians over rounds and the per-round ratio
new/old (median, min, max). These 2-vCPU machines are shared and drift, so only the paired,
interleaved ratios mean anything. Example (docs/perf/interface_refactor.md):
  python3 bench/compare_builds.py --old /tmp/base/build/longctx --new build/longctx \
      --rounds 5 --case "s110m decode=-m /work/models/s110m.bin --prompt 16 --gen 64 --reps 3" \
      --json docs/perf/interface_refactor.json
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def run_bench(binary, args, out):
    cmd = [binary, "bench"] + args.split() + ["--json", out]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), p.stderr[-2000:]))
    d = json.load(open(out))
    res = {}
    for k in ("prefill", "decode"):
        if isinstance(d.get(k), dict) and d[k].get("tok_s_median"):
            res[k] = d[k]["tok_s_median"]
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--case", action="append", required=True, help="NAME=bench arguments")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", required=True)
    args = ap.parse_args()
    cases = [c.split("=", 1) for c in args.case]
    tmp = tempfile.mkdtemp()
    raw = {name: {"old": [], "new": []} for name, _ in cases}
    t0 = time.time()
    for r in range(args.rounds):
        for name, bargs in cases:
            order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
            for which in order:
                binary = args.old if which == "old" else args.new
                raw[name][which].append(run_bench(binary, bargs, os.path.join(tmp, "b.json")))
        print("round %d/%d done (%.0f s)" % (r + 1, args.rounds, time.time() - t0), file=sys.stderr)
    out = {"old": args.old, "new": args.new, "rounds": args.rounds, "cases": {},
           "load_avg_end": os.getloadavg(), "seconds": time.time() - t0}
    print("| case | measure | old tok/s (median) | new tok/s (median) | new/old per round: "
          "median (min-max) |")
    print("|---|---|---:|---:|---|")
    for name, bargs in cases:
        o, n = raw[name]["old"], raw[name]["new"]
        entry = {"args": bargs, "old": o, "new": n, "ratios": {}}
        for k in o[0]:
            ratios = [b[k] / a[k] for a, b in zip(o, n)]
            entry["ratios"][k] = {"median": statistics.median(ratios), "min": min(ratios),
                                  "max": max(ratios), "all": ratios}
            print("| %s | %s | %.1f | %.1f | %.3f (%.3f-%.3f) |" % (
                name, k, statistics.median(a[k] for a in o), statistics.median(b[k] for b in n),
                statistics.median(ratios), min(ratios), max(ratios)))
        out["cases"][name] = entry
    json.dump(out, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
