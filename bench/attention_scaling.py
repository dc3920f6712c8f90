#!/usr/bin/env python3
"""Decode speed and memory versus context length for full attention and LM-Infinite (lambda).

Runs `longctx bench --fill N` (random keys/values stand in for N positions of context, so no
quadratic prefill is needed) for every (policy, context) pair, alternating the configurations
inside each round so that machine noise hits all of them alike, then reports medians and spread
(min-max over rounds) as markdown and JSON. Also times lambda's prefill at two prompt lengths
(linear scaling check). Standard library only.

Example:
  python3 bench/attention_scaling.py --bin build/longctx --model /work/models/s110m.bin \
      --rounds 3 --out docs/perf/attention_scaling
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time


def run_bench(args, extra):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        cmd = [args.bin, "bench", "-m", args.model, "-t", str(args.threads), "--json", out] + extra
        load = os.getloadavg()[0]
        t0 = time.time()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit("failed: %s\n%s%s" % (" ".join(cmd), proc.stdout, proc.stderr))
        with open(out) as f:
            r = json.load(f)
        r["cmd"] = " ".join(cmd[:6] + cmd[8:])  # without the temporary --json path
        r["load1_before"] = load
        r["wall_s"] = time.time() - t0
        return r


def stats(xs):
    return {"n": len(xs), "median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def attn_flags(policy):
    return ["--attn", policy]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bin", default="build/longctx")
    ap.add_argument("--model", default="/work/models/s110m.bin")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--contexts", default="1024,4096,16384,32768,65536")
    ap.add_argument("--policies", default="full,lambda")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--gen", type=int, default=16, help="decode tokens per repetition")
    ap.add_argument("--reps", type=int, default=2, help="repetitions per run (after a warm-up)")
    ap.add_argument("--prefill", default="4096,65536",
                    help="lambda prefill prompt lengths ('' to skip)")
    ap.add_argument("--prefill-rounds", type=int, default=1)
    ap.add_argument("--ratio", default="full,lambda",
                    help="BASE,OTHER: report OTHER/BASE decode speed and BASE/OTHER memory")
    ap.add_argument("--out", default="docs/perf/attention_scaling",
                    help="writes OUT.md and OUT.json")
    args = ap.parse_args()
    contexts = [int(x) for x in args.contexts.split(",") if x]
    policies = [p for p in args.policies.split(",") if p]
    prefill_lengths = [int(x) for x in args.prefill.split(",") if x]
    started = time.time()

    decode_runs = []
    for rnd in range(args.rounds):
        # Alternate the order each round (forward, then backward) so neither policy always runs
        # right after the other's biggest context.
        order = [(c, p) for c in contexts for p in policies]
        if rnd % 2:
            order.reverse()
        for ctx, pol in order:
            extra = attn_flags(pol) + ["--fill", str(ctx), "--prompt", "16", "--gen",
                                       str(args.gen), "--reps", str(args.reps)]
            r = run_bench(args, extra)
            r.update(round=rnd, policy=pol, context=ctx)
            decode_runs.append(r)
            print("round %d %-7s ctx %7d: decode %7.2f tok/s, peak RSS %7.1f MiB, KV %7.1f MiB "
                  "(load %.1f)" % (rnd, pol, ctx, r["decode"]["tok_s_median"],
                                    r["peak_rss_bytes"] / 2**20, r["kv_cache_bytes"] / 2**20,
                                    r["load1_before"]), flush=True)

    prefill_runs = []
    for rnd in range(args.prefill_rounds):
        for n in prefill_lengths:
            extra = attn_flags("lambda") + ["--prompt", str(n), "--gen", "1", "--reps", "1"]
            r = run_bench(args, extra)
            r.update(round=rnd, policy="lambda", prompt=n)
            prefill_runs.append(r)
            print("round %d lambda prefill %6d: %7.1f tok/s (load %.1f)" %
                  (rnd, n, r["prefill"]["tok_s_median"], r["load1_before"]), flush=True)

    # Summaries.
    rows = []
    for ctx in contexts:
        for pol in policies:
            rs = [r for r in decode_runs if r["context"] == ctx and r["policy"] == pol]
            rows.append({"policy": pol, "label": rs[0]["attn"], "context": ctx,
                         "decode_tok_s": stats([r["decode"]["tok_s_median"] for r in rs]),
                         "peak_rss_mib": stats([r["peak_rss_bytes"] / 2**20 for r in rs]),
                         "kv_cache_mib": rs[0]["kv_cache_bytes"] / 2**20,
                         "cache_slots": rs[0]["cache_slots"]})
    ratios = []
    base, other = (args.ratio.split(",") + [""])[:2]
    if base in policies and other in policies:
        for ctx in contexts:
            per_round = []
            for rnd in range(args.rounds):
                f = [r for r in decode_runs if (r["context"], r["policy"], r["round"]) == (ctx, base, rnd)][0]
                l = [r for r in decode_runs if (r["context"], r["policy"], r["round"]) == (ctx, other, rnd)][0]
                per_round.append((l["decode"]["tok_s_median"] / f["decode"]["tok_s_median"],
                                  f["peak_rss_bytes"] / l["peak_rss_bytes"],
                                  f["kv_cache_bytes"] / l["kv_cache_bytes"]))
            ratios.append({"context": ctx,
                           "decode_speedup": stats([x[0] for x in per_round]),
                           "peak_rss_ratio": stats([x[1] for x in per_round]),
                           "kv_cache_ratio": per_round[0][2]})
    prefill = []
    for n in prefill_lengths:
        rs = [r for r in prefill_runs if r["prompt"] == n]
        prefill.append({"prompt": n, "label": rs[0]["attn"],
                        "prefill_tok_s": stats([r["prefill"]["tok_s_median"] for r in rs]),
                        "peak_rss_mib": stats([r["peak_rss_bytes"] / 2**20 for r in rs])})

    meta = {"model": args.model, "threads": args.threads, "rounds": args.rounds, "gen": args.gen,
            "reps": args.reps, "commit": decode_runs[0]["commit"] if decode_runs else "?",
            "isa": decode_runs[0]["isa"] if decode_runs else "?",
            "platform": platform.platform(), "elapsed_s": round(time.time() - started, 1),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": " ".join([os.path.basename(sys.executable)] + sys.argv)}
    doc = {"meta": meta, "decode": rows, "ratios": ratios, "prefill": prefill,
           "runs": decode_runs + prefill_runs}
    with open(args.out + ".json", "w") as f:
        json.dump(doc, f, indent=1)

    def spread(s, fmt):
        return (fmt + " [" + fmt + "–" + fmt + "]") % (s["median"], s["min"], s["max"])

    md = []
    md.append("| policy | context | decode tok/s median [min–max] | peak RSS MiB median [min–max] | KV cache MiB (slots) |")
    md.append("|---|---:|---:|---:|---:|")
    for r in rows:
        md.append("| %s | %d | %s | %s | %.1f (%d) |" % (
            r["label"], r["context"], spread(r["decode_tok_s"], "%.2f"),
            spread(r["peak_rss_mib"], "%.0f"), r["kv_cache_mib"], r["cache_slots"]))
    if ratios:
        md.append("")
        md.append("| context | %s / %s decode speed-up median [min–max] | peak RSS ratio (inverse) | KV cache ratio (inverse) |"
                  % (other, base))
        md.append("|---:|---:|---:|---:|")
        for r in ratios:
            md.append("| %d | %s | %s | %.1f× |" % (r["context"], spread(r["decode_speedup"], "%.2f×"),
                                                    spread(r["peak_rss_ratio"], "%.2f×"),
                                                    r["kv_cache_ratio"]))
    if prefill:
        md.append("")
        md.append("| lambda prefill | tokens | prefill tok/s median [min–max] | peak RSS MiB |")
        md.append("|---|---:|---:|---:|")
        for r in prefill:
            md.append("| %s | %d | %s | %.0f |" % (r["label"], r["prompt"],
                                                  spread(r["prefill_tok_s"], "%.1f"),
                                                  r["peak_rss_mib"]["median"]))
    with open(args.out + "_tables.md", "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
