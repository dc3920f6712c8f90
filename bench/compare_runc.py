#!/usr/bin/env python3
"""Side-by-side decode benchmark: longctx vs llama2.c's run.c, run interleaved.

Both engines generate the same number of tokens greedily from an empty prompt (BOS only):

    run.c:    OMP_NUM_THREADS=T RUNC MODEL -z TOK -t 0 -n STEPS      (-t is the temperature)
              stderr: "achieved tok/s: X", measured over the forwards after the first one
    longctx:  LONGCTX run -m MODEL -z TOK --temp 0 -n STEPS -t T --verbose [--longctx-args]
              stderr: "generation: N tokens, X tokens/s"

Runs are interleaved (round r: for each thread count: run.c, then every longctx variant), so
that machine noise hits both engines alike; the ratio longctx/run.c is computed per round pair
and summarised (median, p10, p90, min, max). One untimed warm-up of each engine comes first.

Timing conventions, made equal here:
  * run.c reports (pos-1) tokens over the time of the last (pos-1) forwards (millisecond clock).
  * longctx reports N tokens over the time after the prefill of BOS, i.e. N-1 decode forwards
    plus N samples. Its rate is multiplied by (N-1)/N, so that both are "forwards per second
    after the first" (the correction is 0.4% at N = 256).
  * longctx prints its rate with one decimal; at ~5 tok/s that is a +-1% quantisation.
run.c stops early when it samples BOS (token 1); longctx stops at BOS or EOS. The number of
tokens run.c generated is taken from longctx's count when the two texts are identical, and is
reported as unknown otherwise (with the text lengths in bytes).

  * run.c's millisecond clock quantises short runs (~4% per run for a 25 ms run).
Peak RSS is measured per child with os.wait4 (ru_maxrss).

Shared machines: for every run the share of all CPUs that other processes used meanwhile is
recorded (/proc/stat busy time minus the child's own CPU time), and ratios are also summarised
over "quiet" pairs only (--quiet, default 10%). --max-busy makes each pair wait for a nearly idle
machine first. With 2 threads on 2 CPUs, a busy neighbour makes OpenMP's spinning barriers (run.c)
collapse, so contended pairs measure the scheduler rather than the engines.

Roofline (optional): --bandwidth runs bench/bandwidth once per round; with --runc-bytes and
--longctx-bytes (bytes of weights streamed per token) each engine's tok/s x bytes is divided by
the read bandwidth of the same round. Above 100% means part of the weights stayed in cache (or
the bandwidth benchmark reads more slowly than the engine does).

Standard library only. Progress goes to stderr; the markdown table to stdout (and --markdown).
"""

import argparse
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from benchutil import (busy_cpu_seconds, child_env, cpu_busy, log, quantile, summary,  # noqa: E402
                       wait_quiet, write_json_atomic)

RUNC_RATE = re.compile(r"achieved tok/s:\s*([0-9.eE+-]+)")
LONGCTX_RATE = re.compile(r"generation:\s*(\d+)\s+tokens,\s*([0-9.eE+-]+)\s+tokens/s")


def pct(s):
    """Median of a summary as a percentage, or '?'."""
    return "?" if s is None else f"{s['median']:.0%}"


def parse_threads(text):
    out = []
    for part in text.split(","):
        part = part.strip()
        if not re.fullmatch(r"[1-9][0-9]*", part):
            raise argparse.ArgumentTypeError(f"--threads: '{part}' is not a positive integer")
        out.append(int(part))
    if not out:
        raise argparse.ArgumentTypeError("--threads: empty list")
    return out


def positive_int(text):
    if not re.fullmatch(r"[1-9][0-9]*", text):
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive integer")
    return int(text)


def run_child(cmd, env):
    """Runs cmd; returns (rc, stdout bytes, stderr text, info dict with wall_s, peak RSS and
    the share of the machine other processes used meanwhile)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        b0 = busy_cpu_seconds()
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        b1 = busy_cpu_seconds()
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        info = {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
                "peak_rss_bytes": ru.ru_maxrss * 1024}  # ru_maxrss is in KiB on Linux
        if b0 is not None and b1 is not None:
            foreign = max(0.0, (b1 - b0) - info["cpu_s"])
            info["foreign_cpu_frac"] = foreign / (wall * (os.cpu_count() or 1))
        else:
            info["foreign_cpu_frac"] = None
        return p.returncode, out.read(), err.read().decode("utf-8", "replace"), info


def run_runc(args, threads):
    cmd = [args.runc, args.model, "-z", args.tokenizer, "-t", "0", "-n", str(args.steps)]
    rc, out, err, info = run_child(cmd, child_env(threads))
    m = RUNC_RATE.search(err)
    if rc != 0 or not m:
        raise RuntimeError(f"run.c failed (rc {rc}): {' '.join(cmd)}\n{err[-2000:]}")
    return {"cmd": cmd, "tok_s_reported": float(m.group(1)), "tok_s": float(m.group(1)),
            "text": out, **info}


def run_longctx(args, threads, extra):
    cmd = [args.longctx, "run", "-m", args.model, "-z", args.tokenizer, "--temp", "0",
           "-n", str(args.steps), "-t", str(threads), "--verbose"] + extra
    rc, out, err, info = run_child(cmd, child_env(threads))
    m = LONGCTX_RATE.search(err)
    if rc != 0 or not m:
        raise RuntimeError(f"longctx failed (rc {rc}): {' '.join(cmd)}\n{err[-2000:]}")
    n = int(m.group(1))
    reported = float(m.group(2))
    # Same convention as run.c: forwards per second over the forwards after the first.
    rate = reported * (n - 1) / n if n > 1 else float("nan")
    return {"cmd": cmd, "tokens": n, "tok_s_reported": reported, "tok_s": rate, "text": out,
            **info}


def run_bandwidth(args):
    """Runs the bandwidth benchmark once; returns {threads: GB/s median of the best method}."""
    cmd = [args.bandwidth, "--mib", "1024", "--reps", "3", "--threads", str(max(args.threads))]
    rc, out, err, _ = run_child(cmd, child_env(1))
    text = out.decode("utf-8", "replace")
    m = re.search(r"^JSON (\[.*\])\s*$", text, re.M)
    if rc != 0 or not m:
        raise RuntimeError(f"bandwidth failed (rc {rc}): {' '.join(cmd)}\n{text}{err}")
    # The benchmark may report several read methods per thread count (e.g. plain, prefetch):
    # the roofline is the best of them.
    best = {}
    for x in json.loads(m.group(1)):
        t = int(x["threads"])
        best[t] = max(best.get(t, 0.0), float(x["gbps_median"]))
    return best


def machine_info():
    info = {"platform": platform.platform(), "python": platform.python_version()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True,
                               env={"LC_ALL": "C"}).stdout
        for key in ("Model name", "CPU(s)", "Core(s) per socket", "Thread(s) per core",
                    "L2 cache", "L3 cache"):
            m = re.search(rf"^{re.escape(key)}:\s*(.+)$", lscpu, re.M)
            if m:
                info[key] = m.group(1).strip()
    except OSError:
        pass
    return info


def variant_name(extra):
    return "longctx" + ((" " + " ".join(extra)) if extra else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--longctx", required=True, help="longctx binary")
    ap.add_argument("--runc", required=True, help="llama2.c run binary (built outside the repo)")
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--threads", type=parse_threads, default=[1], help="e.g. 1,2")
    ap.add_argument("--rounds", type=positive_int, default=5)
    ap.add_argument("--steps", type=positive_int, default=256)
    ap.add_argument("--longctx-args", action="append", default=None,
                    help="extra longctx run arguments, e.g. '--dtype bf16'; repeat the flag to "
                         "compare several longctx variants against the same run.c runs")
    ap.add_argument("--no-warmup", action="store_true")
    ap.add_argument("--quiet", type=float, default=0.10,
                    help="a round pair counts as quiet when other processes used at most this "
                         "share of all CPUs during both runs; ratios are also given over quiet "
                         "pairs only (default 0.10)")
    ap.add_argument("--bandwidth", help="bench/bandwidth binary: run once per round (1 GiB, 3 "
                    "reps) to compute the fraction of the DRAM roofline reached")
    ap.add_argument("--runc-bytes", type=float, help="bytes run.c streams per token "
                    "(f32 weights), for the roofline")
    ap.add_argument("--longctx-bytes", type=float, action="append", help="bytes longctx "
                    "streams per token, one per --longctx-args variant, for the roofline")
    ap.add_argument("--max-busy", type=float, default=None,
                    help="before each run.c/longctx pair, wait until the CPUs are at most this "
                         "fraction busy (e.g. 0.1), measured over 0.5 s from /proc/stat")
    ap.add_argument("--max-wait", type=float, default=120,
                    help="longest wait for --max-busy, in seconds (then run anyway)")
    ap.add_argument("--label", default="", help="free text stored in the JSON / table title")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--markdown", help="write the markdown table here")
    args = ap.parse_args()

    for path in (args.longctx, args.runc, args.model, args.tokenizer) + \
            ((args.bandwidth,) if args.bandwidth else ()):
        if not os.path.exists(path):
            ap.error(f"'{path}' does not exist")
    variants = [shlex.split(s) for s in (args.longctx_args or [""])]
    names = [variant_name(v) for v in variants]
    if len(set(names)) != len(names):
        ap.error("--longctx-args: the variants must differ")

    if not args.no_warmup:
        log("warm-up (untimed): run.c and each longctx variant once, "
            f"{min(args.threads)} thread(s)")
        run_runc(args, min(args.threads))
        for v in variants:
            run_longctx(args, min(args.threads), v)

    # records[(engine, threads)] = list of per-round dicts
    records = {}
    t_start = time.time()
    bandwidths = []
    for r in range(args.rounds):
        if args.bandwidth:
            wait_quiet(args)
            bandwidths.append(run_bandwidth(args))
            log(f"round {r + 1}/{args.rounds}: read bandwidth GB/s " +
                ", ".join(f"{t} thr {g:.2f}" for t, g in sorted(bandwidths[-1].items())))
        for t in args.threads:
            busy = wait_quiet(args)
            load = os.getloadavg()[0]
            res = run_runc(args, t)
            res["load1"] = load
            res["busy_before"] = busy
            records.setdefault(("run.c", t), []).append(res)
            msg = [f"round {r + 1}/{args.rounds} t={t}: run.c {res['tok_s']:.2f}"
                   f" [others {res['foreign_cpu_frac'] or 0:.0%}]"]
            for name, v in zip(names, variants):
                busy = cpu_busy(0.2)
                load = os.getloadavg()[0]
                lres = run_longctx(args, t, v)
                lres["load1"] = load
                lres["busy_before"] = busy
                records.setdefault((name, t), []).append(lres)
                msg.append(f"{name} {lres['tok_s']:.2f} ({lres['tok_s'] / res['tok_s']:.3f}x)"
                           f" [others {lres['foreign_cpu_frac'] or 0:.0%}]")
            log(", ".join(msg) + f"  [load {os.getloadavg()[0]:.2f}, "
                f"busy before {res['busy_before'] or 0:.0%}]")
    elapsed = time.time() - t_start

    # Per engine and thread count.
    engines = []
    for (name, t), rs in records.items():
        texts = {x["text"] for x in rs}
        entry = {"engine": name, "threads": t,
                 "tok_s": summary([x["tok_s"] for x in rs]),
                 "tok_s_reported": summary([x["tok_s_reported"] for x in rs]),
                 "wall_s": summary([x["wall_s"] for x in rs]),
                 "peak_rss_mib": summary([x["peak_rss_bytes"] / 2**20 for x in rs]),
                 "load1": summary([x["load1"] for x in rs]),
                 "busy_before": summary([x["busy_before"] for x in rs]),
                 "foreign_cpu_frac": summary([x["foreign_cpu_frac"] for x in rs]),
                 "cpu_s": summary([x["cpu_s"] for x in rs]),
                 "deterministic_text": len(texts) == 1,
                 "text_bytes": len(rs[0]["text"]),
                 "per_round_tok_s": [x["tok_s"] for x in rs],
                 "per_round_foreign_cpu_frac": [x["foreign_cpu_frac"] for x in rs],
                 "cmd": rs[0]["cmd"]}
        if name != "run.c":
            entry["tokens"] = sorted({x["tokens"] for x in rs})
        engines.append(entry)

    # Fraction of the DRAM roofline: tok/s x bytes per token / bandwidth of the same round.
    stream_bytes = {"run.c": args.runc_bytes}
    for name, nbytes in zip(names, args.longctx_bytes or []):
        stream_bytes[name] = nbytes
    if bandwidths:
        for e in engines:
            nbytes = stream_bytes.get(e["engine"])
            bw = [b.get(e["threads"]) for b in bandwidths]
            e["bandwidth_gbps"] = summary(bw)
            if nbytes:
                e["stream_bytes_per_token"] = nbytes
                e["roofline_frac"] = summary(
                    [x * nbytes / (g * 1e9) for x, g in zip(e["per_round_tok_s"], bw) if g])

    # Ratios per round pair, text agreement and token counts.
    comparisons = []
    for name in names:
        for t in args.threads:
            a, b = records[(name, t)], records[("run.c", t)]
            ratios = [x["tok_s"] / y["tok_s"] for x, y in zip(a, b)]
            # Pairs during which other processes used at most --quiet of the machine (both runs).
            quiet = [q for q, x, y in zip(ratios, a, b)
                     if x["foreign_cpu_frac"] is not None and y["foreign_cpu_frac"] is not None
                     and max(x["foreign_cpu_frac"], y["foreign_cpu_frac"]) <= args.quiet]
            same = all(x["text"] == y["text"] for x, y in zip(a, b))
            runc_tokens = a[0]["tokens"] if same else None
            comparisons.append({
                "engine": name, "threads": t, "ratio": summary(ratios),
                "ratio_quiet": summary(quiet),
                "per_round_ratio": ratios, "same_text_as_runc": same,
                "longctx_tokens": a[0]["tokens"], "runc_tokens": runc_tokens,
                "runc_text_bytes": len(b[0]["text"]), "longctx_text_bytes": len(a[0]["text"]),
                "runc_stopped_early": (runc_tokens is not None and runc_tokens < args.steps)})
        if len(args.threads) > 1:
            # Best thread count per engine within each round, then the ratio of the bests.
            best, best_quiet = [], []
            for r in range(args.rounds):
                la = max(records[(name, t)][r]["tok_s"] for t in args.threads)
                rb = max(records[("run.c", t)][r]["tok_s"] for t in args.threads)
                best.append(la / rb)
                fr = [records[(e, t)][r]["foreign_cpu_frac"] for e in (name, "run.c")
                      for t in args.threads]
                if all(f is not None and f <= args.quiet for f in fr):
                    best_quiet.append(la / rb)
            comparisons.append({"engine": name, "threads": "best of " +
                                ",".join(map(str, args.threads)),
                                "ratio": summary(best), "ratio_quiet": summary(best_quiet),
                                "per_round_ratio": best})

    result = {"label": args.label, "model": args.model, "tokenizer": args.tokenizer,
              "steps": args.steps, "rounds": args.rounds, "threads": args.threads,
              "longctx": args.longctx, "runc": args.runc, "variants": names,
              "machine": machine_info(), "elapsed_s": elapsed,
              "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "timing_note": "tok_s = forwards/s after the first forward; longctx's reported "
                             "rate is scaled by (N-1)/N; ratios are per interleaved round pair",
              "bandwidth_gbps_per_round": [{str(k): v for k, v in b.items()} for b in bandwidths],
              "engines": engines, "comparisons": comparisons}

    md = [f"### {args.label or os.path.basename(args.model)}: {args.steps} steps, "
          f"{args.rounds} interleaved rounds", "",
          "| engine | threads | tok/s median | p10 | p90 | peak RSS MiB | tokens | others' CPU |",
          "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for e in sorted(engines, key=lambda e: (e["threads"], e["engine"] != "run.c", e["engine"])):
        s = e["tok_s"]
        if e["engine"] == "run.c":
            cmp = next((c for c in comparisons if c["threads"] == e["threads"]
                        and c.get("runc_tokens") is not None), None)
            tokens = str(cmp["runc_tokens"]) if cmp else "?"
        else:
            tokens = ",".join(map(str, e["tokens"]))
        md.append(f"| {e['engine']} | {e['threads']} | {s['median']:.2f} | {s['p10']:.2f} | "
                  f"{s['p90']:.2f} | {e['peak_rss_mib']['max']:.0f} | {tokens} | "
                  f"{pct(e['foreign_cpu_frac'])} |")
    roof = [e for e in engines if e.get("roofline_frac")]
    if roof:
        md += ["", "| engine | threads | GB/s streamed per token x tok/s | read bandwidth GB/s "
                   "(same rounds) | roofline fraction median | p10 | p90 |",
               "|---|---:|---:|---:|---:|---:|---:|"]
        for e in sorted(roof, key=lambda e: (e["threads"], e["engine"] != "run.c", e["engine"])):
            f = e["roofline_frac"]
            md.append(f"| {e['engine']} | {e['threads']} | "
                      f"{e['tok_s']['median'] * e['stream_bytes_per_token'] / 1e9:.2f} | "
                      f"{e['bandwidth_gbps']['median']:.2f} | {f['median']:.0%} | "
                      f"{f['p10']:.0%} | {f['p90']:.0%} |")
    md += ["", "| longctx / run.c | threads | ratio median | p10 | p90 | min | max | same text "
               f"| quiet pairs (others <= {args.quiet:.0%}) | quiet median | quiet min "
               "| quiet max |",
           "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    for c in comparisons:
        s = c["ratio"]
        same = c.get("same_text_as_runc")
        same = "" if same is None else ("yes" if same else "no")
        md.append(f"| {c['engine']} | {c['threads']} | {s['median']:.3f} | {s['p10']:.3f} | "
                  f"{s['p90']:.3f} | {s['min']:.3f} | {s['max']:.3f} | {same} | " +
                  (f"{q['n']} | {q['median']:.3f} | {q['min']:.3f} | {q['max']:.3f} |"
                   if (q := c["ratio_quiet"]) else "0 | | | |"))
    load = summary([x["load1"] for rs in records.values() for x in rs])
    busy = summary([x["busy_before"] for rs in records.values() for x in rs]) or \
        {"median": float("nan"), "max": float("nan")}
    md += ["", f"Before each run: 1-min load average median {load['median']:.2f} "
               f"(max {load['max']:.2f}); CPUs busy median {busy['median']:.0%} "
               f"(max {busy['max']:.0%}); elapsed {elapsed:.0f} s. \"others' CPU\" is the median "
               "share of all CPUs that other processes used during a run.", ""]
    text = "\n".join(md)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    if args.json:
        for e in engines:
            e["cmd"] = " ".join(shlex.quote(x) for x in e["cmd"])
        write_json_atomic(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
