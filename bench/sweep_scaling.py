#!/usr/bin/env python3
"""Wall time of one Ray sweep (python -m longctx.sweep) at 1 and 2 workers of 1 engine thread
each, interleaved over rounds on a local Ray instance, beside the CLI running the same
evaluations (`longctx ppl` / `longctx passkey`, -t 1 and -t 2). Every sweep's JSON is checked
against the CLI's (-t 1): same keys, same numbers (timings, memory and the command aside).

usage: python3 bench/sweep_scaling.py [--model GGUF] [--rounds R] [--json F] [--md F]
       (PYTHONPATH=build/python, or the package installed; --binary build/longctx)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from longctx.sweep import report_difference

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
def timed(cmd, env=None):
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.stderr.write(r.stderr[-4000:])
        raise SystemExit("failed: " + " ".join(cmd))
    return time.time() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(assets_dir(), "real_models",
                                                     "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "longctx"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json")
    ap.add_argument("--md")
    a = ap.parse_args()
    books = [os.path.join(assets_dir(), "corpora", b)
             for b in ("frankenstein.txt", "pride_and_prejudice.txt")]
    lengths, policies = [1024, 2048], ["full", "lambda", "streaming:G=4:W=512"]
    pk_lengths, pk_samples, pk_policies = [1024, 2048], 3, ["full", "lambda"]
    work = tempfile.mkdtemp(prefix="sweep_scaling.")
    cfg = os.path.join(work, "sweep.yaml")
    with open(cfg, "w") as f:
        json.dump({"model": a.model, "threads": 1,
                   "ppl": {"documents": books, "lengths": lengths, "attention": policies},
                   "passkey": {"lengths": pk_lengths, "samples": pk_samples,
                               "attention": pk_policies}}, f)  # JSON is YAML

    def cli_cmds(threads, tag):
        cmds = []
        for n in lengths:
            cmds.append([a.binary, "ppl", "-m", a.model, *sum((["-f", b] for b in books), []),
                         "--max-len", str(n), "--attn", ",".join(policies), "-t", str(threads),
                         "--json", os.path.join(work, "%s-ppl-len%d.json" % (tag, n))])
        cmds.append([a.binary, "passkey", "-m", a.model, "--lengths",
                     ",".join(map(str, pk_lengths)), "--samples", str(pk_samples), "--attn",
                     ",".join(pk_policies), "-t", str(threads),
                     "--json", os.path.join(work, "%s-passkey.json" % tag)])
        return cmds

    times = {"sweep, 1 worker x 1 thread": [], "sweep, 2 workers x 1 thread": [],
             "CLI, -t 1": [], "CLI, -t 2": []}
    for r in range(a.rounds):
        for name in times:
            if name.startswith("CLI"):
                t = int(name[-1])
                times[name].append(sum(timed(c) for c in cli_cmds(t, "cli%d" % t)))
                continue
            workers = int(name.split(", ")[1][0])
            out = os.path.join(work, "sweep-w%d-r%d" % (workers, r))
            timed([sys.executable, "-m", "longctx.sweep", "--config", cfg, "--workers",
                   str(workers), "--out", out])
            s = json.load(open(os.path.join(out, "sweep.json")))
            times[name].append(s["wall_seconds"])
            print("round %d %s: %.1f s" % (r, name, times[name][-1]), flush=True)
    # The first sweep ran before the first CLI run: check every sweep output now.
    mismatches = []
    for r in range(a.rounds):
        for workers in (1, 2):
            out = os.path.join(work, "sweep-w%d-r%d" % (workers, r))
            for n in lengths:
                d = report_difference(json.load(open(os.path.join(work, "cli1-ppl-len%d.json" % n))),
                         json.load(open(os.path.join(out, "ppl-len%d.json" % n))))
                if d:
                    mismatches.append("w%d r%d ppl-len%d: %s" % (workers, r, n, d))
            d = report_difference(json.load(open(os.path.join(work, "cli1-passkey.json"))),
                     json.load(open(os.path.join(out, "passkey.json"))))
            if d:
                mismatches.append("w%d r%d passkey: %s" % (workers, r, d))
    base = statistics.median(times["sweep, 1 worker x 1 thread"])
    rows = []
    for name, ts in times.items():
        rows.append({"run": name, "seconds": ts, "median": statistics.median(ts),
                     "min": min(ts), "max": max(ts),
                     "speedup_vs_1_worker": base / statistics.median(ts)})
    cells = len(books) * len(lengths) * len(policies) + len(pk_lengths) * pk_samples * len(pk_policies)
    table = ("| run | median s | min..max s | vs sweep at 1 worker |\n|---|---:|---:|---:|\n" +
             "".join("| %s | %.1f | %.1f..%.1f | %.2fx |\n" % (x["run"], x["median"], x["min"],
                                                               x["max"], x["speedup_vs_1_worker"])
                     for x in rows))
    print(table)
    print("JSON equal to the CLI's: %s" % ("yes, every sweep" if not mismatches else mismatches))
    record = {"model": a.model, "rounds": a.rounds, "cells": cells, "documents": books,
              "ppl_lengths": lengths, "ppl_attention": policies, "passkey_lengths": pk_lengths,
              "passkey_samples": pk_samples, "passkey_attention": pk_policies,
              "cpus": os.cpu_count(), "results": rows, "json_equal_to_cli": not mismatches,
              "mismatches": mismatches,
              "command": "python3 bench/sweep_scaling.py " + " ".join(sys.argv[1:])}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(record, f, indent=1)
    if a.md:
        with open(a.md, "w") as f:
            f.write(table)
    return 0 if not mismatches else 1


if __name__ == "__main__":
    sys.exit(main())
