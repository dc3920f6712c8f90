#!/usr/bin/env python3
"""Prefill time of one or more builds of the Python module, one prefill per fresh process.

For long prompts, where `longctx bench`'s warm-up repetition would double a run of many minutes
(bench/compare_builds.py is the A/B tool for short cases). Each measurement: a new process loads
the model, then times one `Model.logits(ids, attention, last=1)` over N random token ids (the
engine's prefill in its default 64-token blocks; only the last row's logits are projected). Every
round runs every (case, build) once, the builds alternating in order by round, so all see the same
machine load. Reports per case and build the median and min-max tok/s, and each build's speed
relative to the first build's (the baseline) on the same case.

    python3 bench/prefill_time.py --build old=/tmp/base/build/python --build new=build/python \\
        --model ../shared/assets/real_models/SmolLM2-135M-Instruct.Q4_1.gguf \\
        --cases full:8192,lambda:16384 --rounds 2 --out docs/perf/prefill_flash.json
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CHILD = r"""
import sys, time, random, longctx
model, attention, n, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
m = longctx.Model(model, threads=threads)
rng = random.Random(7)
ids = [rng.randrange(1000, m.vocab_size) for _ in range(n)]
t = time.perf_counter()
m.logits(ids, attention=attention, last=1)
print(time.perf_counter() - t)
"""


def run(pythonpath, model, attention, n, threads, python, extra_env=None):
    env = dict(os.environ, PYTHONPATH=pythonpath, **(extra_env or {}))
    out = subprocess.run([python, "-c", CHILD, model, attention, str(n), str(threads)], env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("prefill_time: %s %s:%d failed:\n%s" % (pythonpath, attention, n, out.stderr[-2000:]))
    return float(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", action="append", required=True,
                    help="NAME=PYTHONPATH of a build (repeatable; the first is the baseline)")
    ap.add_argument("--build-env", action="append", default=[],
                    help="NAME:VAR=VALUE, an environment variable for build NAME's runs "
                         "(repeatable; e.g. two builds of one PYTHONPATH, LONGCTX_AMX_ATTN=0 and 1)")
    ap.add_argument("--model", required=True)
    ap.add_argument("--cases", required=True,
                    help="comma-separated ATTENTION:TOKENS (attention items as in longctx ppl)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--python", default=sys.executable, help="interpreter with numpy (the .venv)")
    ap.add_argument("--out", help="JSON file")
    args = ap.parse_args()
    builds = []
    for b in args.build:
        name, sep, path = b.partition("=")
        if not sep or not name or not path:
            ap.error("--build: expected NAME=PYTHONPATH, got %r" % b)
        builds.append((name, path))
    envs = {name: {} for name, _ in builds}
    for e in args.build_env:
        name, sep, kv = e.partition(":")
        var, sep2, val = kv.partition("=")
        if not sep or not sep2 or not var or name not in envs:
            ap.error("--build-env: expected NAME:VAR=VALUE for a NAME of --build, got %r" % e)
        envs[name][var] = val
    cases = []
    for c in args.cases.split(","):
        att, _, n = c.rpartition(":")
        if not att or not n.isdigit() or int(n) < 1:
            ap.error("--cases: expected ATTENTION:TOKENS, got %r" % c)
        cases.append((att, int(n)))
    seconds = {(a, n, b): [] for a, n in cases for b, _ in builds}
    t0 = time.time()
    for r in range(args.rounds):
        order = builds if r % 2 == 0 else builds[::-1]
        for att, n in cases:
            for name, path in order:
                s = run(path, args.model, att, n, args.threads, args.python, envs[name])
                seconds[(att, n, name)].append(s)
                print("round %d/%d %s:%d %s: %.1f tok/s (%.0f s elapsed)" %
                      (r + 1, args.rounds, att, n, name, n / s, time.time() - t0), flush=True)
    report = []
    print("| case | build | tok/s median [min-max] | vs %s |" % builds[0][0])
    print("|---|---|---:|---:|")
    for att, n in cases:
        base = statistics.median(seconds[(att, n, builds[0][0])])
        for name, path in builds:
            t = seconds[(att, n, name)]
            med = statistics.median(t)
            row = {"attention": att, "tokens": n, "build": name, "pythonpath": path,
                   "env": envs[name],
                   "tok_s": n / med, "tok_s_min": n / max(t), "tok_s_max": n / min(t),
                   "speed_vs_baseline": base / med, "seconds": t}
            report.append(row)
            print("| %s:%d | %s | %.1f [%.1f-%.1f] | %.2fx |" % (
                att, n, name, row["tok_s"], row["tok_s_min"], row["tok_s_max"],
                row["speed_vs_baseline"]))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"command": "python3 bench/prefill_time.py " + " ".join(sys.argv[1:]),
                       "model": args.model, "threads": args.threads, "rounds": args.rounds,
                       "load_avg_end": os.getloadavg(), "results": report}, f, indent=1)


if __name__ == "__main__":
    main()
