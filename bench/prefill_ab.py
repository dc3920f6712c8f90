#!/usr/bin/env python3
"""Prefill speed of two builds of the Python module side by side (A/B), interleaved per round.

Each measurement is one fresh process: load the model, then time `Model.logits(ids, attention,
last=1)` over N random token ids (the engine's prefill in its default blocks of 64 tokens; only
the last row's logits are projected). The builds alternate inside every round, so both see the
same machine load; the JSON keeps every time and the report gives medians, min-max and ratios.

    python3 bench/prefill_ab.py --a /tmp/base/build/python --b build/python \\
        --model ../shared/assets/real_models/SmolLM2-135M-Instruct.Q4_1.gguf \\
        --cases full:8192,lambda:16384 --rounds 2 --out docs/perf/prefill_flash.json
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

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


def run(pythonpath, model, attention, n, threads, python):
    env = dict(os.environ, PYTHONPATH=pythonpath)
    out = subprocess.run([python, "-c", CHILD, model, attention, str(n), str(threads)], env=env,
                         check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="PYTHONPATH of build A (the baseline)")
    ap.add_argument("--b", required=True, help="PYTHONPATH of build B")
    ap.add_argument("--model", required=True)
    ap.add_argument("--cases", default="full:8192,lambda:16384",
                    help="comma-separated ATTENTION:TOKENS (attention items as in longctx ppl)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--out", help="JSON file")
    args = ap.parse_args()
    cases = []
    for c in args.cases.split(","):
        att, _, n = c.rpartition(":")
        if not att or not n.isdigit():
            ap.error("--cases: expected ATTENTION:TOKENS, got %r" % c)
        cases.append((att, int(n)))
    times = {f"{a}:{n}": {"a": [], "b": []} for a, n in cases}
    for r in range(args.rounds):
        for att, n in cases:
            for side in ("a", "b") if r % 2 == 0 else ("b", "a"):
                s = run(getattr(args, side), args.model, att, n, args.threads, args.python)
                times[f"{att}:{n}"][side].append(s)
                print(f"round {r + 1}/{args.rounds} {att} {n} {side}: {n / s:.1f} tok/s", flush=True)
    report = []
    for key, t in times.items():
        n = int(key.rpartition(":")[2])
        ta, tb = statistics.median(t["a"]), statistics.median(t["b"])
        report.append({"case": key, "tokens": n, "a_tok_s": n / ta, "b_tok_s": n / tb,
                       "a_tok_s_range": [n / max(t["a"]), n / min(t["a"])],
                       "b_tok_s_range": [n / max(t["b"]), n / min(t["b"])],
                       "speedup_b_over_a": ta / tb, "seconds": t})
    print("| case | A tok/s median [min-max] | B tok/s median [min-max] | B / A |")
    print("|---|---:|---:|---:|")
    for x in report:
        print("| %s | %.1f [%.1f-%.1f] | %.1f [%.1f-%.1f] | %.2fx |" % (
            x["case"], x["a_tok_s"], *x["a_tok_s_range"], x["b_tok_s"], *x["b_tok_s_range"],
            x["speedup_b_over_a"]))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"command": " ".join(sys.argv), "model": args.model, "threads": args.threads,
                       "a": args.a, "b": args.b, "cases": report}, f, indent=1)


if __name__ == "__main__":
    main()
