#!/usr/bin/env python3
"""BASED versus an equal-size Llama ("Transformer++"): decode speed versus context, batched
generation throughput in a 16 GiB budget, and BASED's chunked versus quadratic Taylor prefill.

Every measurement is one `longctx bench ... --json` process; the configurations alternate inside
each round so that machine noise hits all of them alike; medians and spread (min-max over rounds)
go to markdown and JSON. Standard library only.

  (a) decode tok/s at context N in {1K, 4K, 16K, 32K}, batch 1: Llama `--fill N` (random keys and
      values stand in for the N positions), BASED `--fill N` (a random recurrent state stands in:
      the state has a fixed size, so a decode step costs what it costs after a real prefill).
  (b) total decode tok/s over all sequences, each model at the largest batch whose per-sequence
      KV / state bytes plus the weights fit 16 GiB. The sequences start at context --gen-ctx
      (default 2560 = a 2K prompt plus half of 1024 generated tokens: the mean context of the
      run) via --fill, and --gen-steps decode steps are timed (a scaled-down run; see the doc).
  (c) BASED prefill tok/s, chunked vs quadratic Taylor form: the linear-attention core alone at
      4K and 16K (--mixer-only), and the whole model at 4K (prompt in one block).

Example:
  python3 bench/based_vs_llama.py --bin build/longctx --based /tmp/based360m \
      --llama /tmp/llama360m.bin --rounds 3 --out docs/perf/based_vs_llama
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

GIB = 1 << 30


def run_bench(args, model, extra):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        cmd = [args.bin, "bench", "-m", model, "-t", str(args.threads)] + extra
        if args.dtype:  # both models get the same weight dtype; (b)'s batch uses its bytes
            cmd += ["--dtype", args.dtype]
        load = os.getloadavg()[0]
        t0 = time.time()
        proc = subprocess.run(cmd + ["--json", out], capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit("failed: %s\n%s%s" % (" ".join(cmd), proc.stdout, proc.stderr))
        with open(out) as f:
            r = json.load(f)
        r["cmd"] = " ".join(cmd)
        r["load1_before"] = load
        r["wall_s"] = time.time() - t0
        print("  %-90s %8.2f tok/s  (%.0f s, load %.1f)" % (
            r["cmd"][-90:], (r["decode"] or r["prefill"])["tok_s_median"], r["wall_s"], load),
            flush=True)
        return r


def spread(vals):
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def part_a(args, results):
    for rnd in range(args.rounds):
        print("(a) round %d" % (rnd + 1), flush=True)
        for n in args.contexts:
            for name, model, extra in (
                    ("based", args.based, []),
                    ("llama", args.llama, ["--ctx", str(n + 1 + args.a_gen)])):
                r = run_bench(args, model, ["--batch", "1", "--fill", str(n), "--prompt", "1",
                                            "--gen", str(args.a_gen), "--reps", "1"] + extra)
                results["a"].setdefault("%s/%d" % (name, n), []).append(r)


def max_batch(per_seq, weights, scratch_per_row):
    # Largest B with weights + B * (per-sequence state + one row of block scratch) <= 16 GiB.
    return int((16 * GIB - weights) // (per_seq + scratch_per_row))


def part_b(args, results):
    # Bytes per sequence from a batch-1 probe of each model at the run's full context.
    ctx = args.prompt_len + args.gen_len
    probes = {
        "based": run_bench(args, args.based, ["--batch", "1", "--fill", "1", "--prompt", "0",
                                              "--gen", "1", "--reps", "1"]),
        "llama": run_bench(args, args.llama, ["--batch", "1", "--fill", "1", "--prompt", "0",
                                              "--gen", "1", "--reps", "1", "--ctx", str(ctx)]),
    }
    plan = {}
    for name, p in probes.items():
        # A decode row of block scratch: BASED's shared scratch per row; Llama's is ~the same size
        # (x, xb, q, k, v, att, proj, gate, up) -- small next to either state.
        per_row = p["workspace_bytes"] / 64 if name == "based" else 64 * 1024
        b = max_batch(p["state_bytes_per_seq"], p["weight_bytes"], per_row)
        plan[name] = {"batch": b, "state_bytes_per_seq": p["state_bytes_per_seq"],
                      "weight_bytes": p["weight_bytes"], "scratch_bytes_per_row": per_row,
                      "total_bytes": p["weight_bytes"] + b * (p["state_bytes_per_seq"] + per_row)}
        print("(b) %s: %d bytes/seq, %d bytes weights -> batch %d" % (
            name, p["state_bytes_per_seq"], p["weight_bytes"], b), flush=True)
    results["b_plan"] = plan
    if args.b_batch_scale != 1.0:
        for p in plan.values():
            p["batch_run"] = max(1, int(p["batch"] * args.b_batch_scale))
    for rnd in range(args.b_rounds):
        print("(b) round %d" % (rnd + 1), flush=True)
        for name, model in (("based", args.based), ("llama", args.llama)):
            b = plan[name].get("batch_run", plan[name]["batch"])
            extra = ["--ctx", str(ctx)] if name == "llama" else []
            r = run_bench(args, model, ["--batch", str(b), "--fill", str(args.gen_ctx),
                                        "--prompt", "0", "--gen", str(args.gen_steps),
                                        "--reps", "1"] + extra)
            results["b"].setdefault(name, []).append(r)


def part_c(args, results):
    for rnd in range(args.rounds if args.c_mixer_rounds is None else args.c_mixer_rounds):
        print("(c) round %d" % (rnd + 1), flush=True)
        for n in (4096, 16384):
            for form in ("chunked", "quadratic"):
                r = run_bench(args, args.based, ["--taylor", form, "--mixer-only", "--prompt",
                                                 str(n), "--reps", "3"])
                results["c_mixer"].setdefault("%s/%d" % (form, n), []).append(r)
    for rnd in range(args.c_model_rounds):
        print("(c) whole model, round %d" % (rnd + 1), flush=True)
        for n in args.c_model_lengths:
            for form in ("chunked", "quadratic"):
                r = run_bench(args, args.based, ["--taylor", form, "--prompt", str(n), "--reps", "1"])
                results["c_model"].setdefault("%s/%d" % (form, n), []).append(r)


def med(rs, key="decode"):
    return spread([r[key]["tok_s_median"] for r in rs])


def fmt(s):
    return "%.2f (%.2f-%.2f)" % (s["median"], s["min"], s["max"])


def markdown(args, results):
    out = []
    if results["a"]:
        out += ["### (a) Decode tok/s versus context, batch 1, %d threads" % args.threads, "",
                "| context | BASED tok/s median (min-max) | Llama tok/s median (min-max) | "
                "BASED / Llama |", "|---|---|---|---|"]
        for n in args.contexts:
            b, l = med(results["a"]["based/%d" % n]), med(results["a"]["llama/%d" % n])
            out.append("| %d | %s | %s | %.2fx |" % (n, fmt(b), fmt(l),
                                                     b["median"] / l["median"]))
        out.append("")
    if results["b"]:
        out += ["### (b) Generation throughput in 16 GiB (total tok/s over all sequences), "
                "weights %s" % (args.dtype or "as stored"), "",
                "| model | bytes/seq | weights | batch | total tok/s median (min-max) |",
                "|---|---|---|---|---|"]
        meds = {}
        for name in ("based", "llama"):
            p = results["b_plan"][name]
            s = med(results["b"][name])
            meds[name] = s["median"]
            out.append("| %s | %.1f MiB | %.0f MiB | %d | %s |" % (
                name, p["state_bytes_per_seq"] / 2**20, p["weight_bytes"] / 2**20,
                results["b"][name][0]["batch"], fmt(s)))
        out += ["", "BASED / Llama: %.2fx" % (meds["based"] / meds["llama"]), ""]
        per_round = [b["decode"]["tok_s_median"] / l["decode"]["tok_s_median"]
                     for b, l in zip(results["b"]["based"], results["b"]["llama"])]
        out += ["Per round: " + ", ".join("%.2fx" % r for r in per_round), ""]
    if results["c_mixer"]:
        out += ["### (c) BASED prefill tok/s: chunked vs quadratic Taylor form", "",
                "| what | tokens | chunked median (min-max) | quadratic median (min-max) | "
                "chunked / quadratic |", "|---|---|---|---|---|"]
        for label, key, ns in (("linear-attention core", "c_mixer", (4096, 16384)),
                               ("whole model", "c_model", (4096, 16384))):
            for n in ns:
                if "chunked/%d" % n not in results[key]:
                    continue
                c = med(results[key]["chunked/%d" % n], "prefill")
                q = med(results[key]["quadratic/%d" % n], "prefill")
                out.append("| %s | %d | %s | %s | %.2fx |" % (label, n, fmt(c), fmt(q),
                                                              c["median"] / q["median"]))
        out.append("")
        for n in (4096, 16384):
            rs = results["c_model"]
            if "chunked/%d" % n in rs and len(rs["chunked/%d" % n]) > 1:
                per = [c["prefill"]["tok_s_median"] / q["prefill"]["tok_s_median"]
                       for c, q in zip(rs["chunked/%d" % n], rs["quadratic/%d" % n])]
                out += ["Whole model at %d, per round: " % n +
                        ", ".join("%.2fx" % r for r in per), ""]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/longctx")
    ap.add_argument("--based", required=True)
    ap.add_argument("--llama", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", choices=["f32", "bf16", "f16"],
                    help="convert both models' weights at load (default: as stored, f32 here)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--parts", default="a,b,c")
    ap.add_argument("--contexts", default="1024,4096,16384,32768")
    ap.add_argument("--a-gen", type=int, default=16, help="(a) decode steps timed per run")
    ap.add_argument("--prompt-len", type=int, default=2048)
    ap.add_argument("--gen-len", type=int, default=1024)
    ap.add_argument("--gen-ctx", type=int, default=2560)
    ap.add_argument("--gen-steps", type=int, default=4)
    ap.add_argument("--b-rounds", type=int, default=2)
    ap.add_argument("--b-batch-scale", type=float, default=1.0)
    ap.add_argument("--c-model-rounds", type=int, default=1)
    ap.add_argument("--c-model-lengths", default="4096",
                    help="(c) whole-model prompt lengths, comma-separated")
    ap.add_argument("--c-mixer-rounds", type=int, default=None,
                    help="(c) rounds of the core-only runs (default: --rounds)")
    ap.add_argument("--out", required=True, help="path prefix: writes PREFIX.json and PREFIX.md")
    args = ap.parse_args()
    args.contexts = [int(x) for x in args.contexts.split(",")]
    args.c_model_lengths = [int(x) for x in args.c_model_lengths.split(",")]
    parts = args.parts.split(",")
    results = {"a": {}, "b": {}, "b_plan": {}, "c_mixer": {}, "c_model": {}}
    meta = {"host": platform.node(), "cpus": os.cpu_count(), "threads": args.threads,
            "dtype": args.dtype or "as stored",
            "load1_start": os.getloadavg()[0], "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "argv": sys.argv}
    if "a" in parts:
        part_a(args, results)
    if "c" in parts:
        part_c(args, results)
    if "b" in parts:
        part_b(args, results)
    meta["load1_end"] = os.getloadavg()[0]
    meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    md = markdown(args, results)
    with open(args.out + ".json", "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1)
    with open(args.out + ".md", "w") as f:
        f.write(md + "\n")
    print(md)


if __name__ == "__main__":
    main()
