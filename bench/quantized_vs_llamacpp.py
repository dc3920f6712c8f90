#!/usr/bin/env python3
"""Quantized GGUF throughput: longctx vs llama.cpp on the same files, interleaved, 2 threads.

Files (built once into --workdir, default build/qbench/, then reused):
  smollm2-q4_1   the real SmolLM2-135M-Instruct Q4_1 GGUF as shipped (token_embd Q8_0, tied)
  smollm2-<type> (--smollm-types, e.g. F32,F16,BF16,Q8_0) the shipped Q4_1 file dequantized to
                 f32 by `longctx convert Q4_1.gguf smollm2-f32.gguf --dtype f32` (the same
                 weights in f32), other types quantized from it by llama.cpp as below
  s110m-<type>   a random llama2.c model at the stories110M shape, written by longctx
                   longctx synth-model -o s110m.bin --dim 768 --hidden 2048 --layers 12
                       --heads 12 --kv-heads 12 --vocab 32000 --ctx 1024 --seed 1
                   longctx convert s110m.bin s110m-f32.gguf --to gguf --dtype f32 -z tokenizer.bin
                 and quantized by llama.cpp's own quantizer (llama_model_quantize with
                 llama_model_quantize_default_params, ftype LLAMA_FTYPE_MOSTLY_<type>) to
                 Q4_0, Q4_K_M and Q8_0 (bench/llamacpp_worker.py quantize). llama.cpp must load
                 the f32 file and every quantized one (checked, `info`), and the two engines'
                 logits on 8 random tokens are compared for every file (a parity line: both
                 engines compute the same model, within quantization noise).

What is timed (both engines: a fresh process per measurement, one untimed warm-up repetition,
then --reps timed repetitions whose median is that round's value; same --threads; same context
size: longctx --ctx N and llama.cpp n_ctx N, N = max(512, the run's tokens rounded up to 256)):
  prefill  --pp random tokens (default 512) from an empty KV cache, logits of the last token
           only; tok/s = pp / time of the prefill call.
             longctx:   longctx bench -m F -t T --prompt PP --gen 1 --reps R --ctx N
                        (prefill in longctx's blocks of 64 tokens; bench's "prefill" median)
             llama.cpp: llama_decode(llama_batch_get_one(512 tokens)) + llama_synchronize
                        after llama_memory_clear; n_batch = n_ubatch = 512 (one ubatch)
  decode   --tg-prompt random tokens (default 16, untimed) then --tg steps (default 128) of
           [argmax of the last logits -> forward of that one token]; tok/s = tg / loop time
           (context tg_prompt .. tg_prompt + tg).
             longctx:   longctx bench -m F -t T --prompt TGP --gen TG --reps R --ctx N
                        (bench's "decode" median: --gen Session::decode calls + Sampler::argmax)
             llama.cpp: llama_sampler_sample(greedy) + llama_decode(1 token), --tg times
llama.cpp settings: n_gpu_layers 0, weights read into memory (load_mode NONE, no mmap), KV
cache f16, flash attention at its default (auto -> the resolved value is recorded), its CPU
REPACK of Q4_0/Q4_K/IQ4 weights into interleaved layouts (as llama.cpp ships; recorded).
longctx: weights mmapped from the GGUF, its default KV cache (bf16 since 2026-12-06; recorded as
kv_cache_bytes), the ISA it dispatches to (recorded).

Interleaving: round r runs the bandwidth benchmark, then for every file and test the two
engines back to back, their order alternating by round and file. Per (file, test, engine)
the per-round values give median, min, max; "ratio of medians" = median(longctx) /
median(llama.cpp); per-round ratios (same round pair) are summarised too.

DRAM roofline (decode): weight bytes read per decoded token = the bytes of every 2-D weight
matrix in the file (all layers' attention and FFN matrices + the output matrix, which is
token_embd itself when the embedding is tied; token_embd's per-token row lookup and the 1-D norm
vectors are not counted), divided into the read bandwidth of `bench/bandwidth --threads T
--mib BW` (best method at T threads, 2 GiB buffer by default: many times the LLC) measured in
the same round: roofline tok/s = bandwidth / bytes per token; each engine's decode tok/s is
reported as a fraction of it (per round, then median). On a machine whose last-level cache
holds the weights (lscpu reports it; a 135M Q4 model is < 100 MiB) decode can exceed 100% of
the DRAM roofline; the same bandwidth benchmark at a buffer the size of the weights
("footprint bandwidth") is therefore reported alongside.

Usage:
  /usr/bin/python3 bench/quantized_vs_llamacpp.py --json docs/perf/quantized.json \\
      --markdown docs/perf/quantized_table.md                  # full: 5 rounds x 3 reps
  /usr/bin/python3 bench/quantized_vs_llamacpp.py --quick      # smoke test (~minutes)
  ... --files smollm2-q4_1,s110m-q4_k_m --rounds 7 --max-busy 0.1

Needs: build/longctx and build/bench/bandwidth (cmake --build build --target longctx
bandwidth), llama-cpp-python (`import llama_cpp`), numpy and gguf (for the parity check and
the tensor byte counts) in the interpreter that runs this script. Progress on stderr; the
markdown table on stdout (and --markdown); every raw sample in --json.
"""

import argparse
import json
import math
import os
import platform
import random
import re
import shlex
import subprocess
import sys
import tempfile
import time
from benchutil import busy_cpu_seconds, child_env, log, quantile, wait_quiet, write_json_atomic  # noqa: E402,E501
from benchutil import summary as _summary  # noqa: E402


def summary(v):
    return _summary(v, keep_all=True)  # the JSON keeps every raw sample

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKER = os.path.join(HERE, "llamacpp_worker.py")
S110M_SHAPE = ["--dim", "768", "--hidden", "2048", "--layers", "12", "--heads", "12",
               "--kv-heads", "12", "--vocab", "32000", "--ctx", "1024"]
TARGETS = {"decode": 1.2, "prefill": 1.0}  # longctx / llama.cpp, ratio of medians
ROOFLINE_TARGET = ("Q4_K", 0.85)  # decode of the Q4_K_M file >= 85% of the DRAM roofline


def run_child(cmd, env=None, check=True):
    """Runs cmd; returns (stdout text, stderr text, info: wall_s, cpu_s, peak RSS, share of all
    CPUs that other processes used meanwhile)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        b0 = busy_cpu_seconds()
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        b1 = busy_cpu_seconds()
        rc = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        o, e = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    info = {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
            "peak_rss_bytes": ru.ru_maxrss * 1024}
    info["foreign_cpu_frac"] = (max(0.0, (b1 - b0) - info["cpu_s"]) / (wall * (os.cpu_count() or 1))
                                if b0 is not None and b1 is not None else None)
    if check and rc != 0:
        raise RuntimeError(f"failed (rc {rc}): {' '.join(map(shlex.quote, cmd))}\n"
                           f"{e[-3000:]}{o[-1000:]}")
    return o, e, info


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON in the output:\n" + text[-2000:])


# ---------------------------------------------------------------------------------------------
# GGUF: bytes read per decoded token


def weight_bytes(path):
    """Bytes of the 2-D weight matrices a decode step streams: every matrix except token_embd,
    plus token_embd when there is no output.weight (tied embedding = the classifier)."""
    from gguf import GGUFReader
    r = GGUFReader(path)
    names = {t.name for t in r.tensors}
    tied = "output.weight" not in names
    total, by_type, emb, out, vec = 0, {}, 0, 0, 0
    for t in r.tensors:
        n = int(t.n_bytes)
        ty = t.tensor_type.name
        if len([d for d in t.shape if d > 1]) < 2:
            vec += n
            continue
        if t.name == "token_embd.weight":
            emb = n
            if not tied:
                continue
        if t.name in ("output.weight",) or (tied and t.name == "token_embd.weight"):
            out = n
        total += n
        by_type[ty] = by_type.get(ty, 0) + n
    return {"bytes_per_token": total, "by_type": by_type, "tied_embedding": tied,
            "output_bytes": out, "token_embd_bytes": emb, "vector_bytes": vec,
            "file_bytes": os.path.getsize(path)}


# ---------------------------------------------------------------------------------------------
# Preparing the files


def prepare(args, wanted):
    """Returns the list of file specs (name, path, origin, checks)."""
    os.makedirs(args.workdir, exist_ok=True)
    files, prep = [], {"commands": []}
    py = args.python

    def sh(cmd, env=None):
        prep["commands"].append(" ".join(map(shlex.quote, cmd)))
        log("  $ " + prep["commands"][-1])
        return run_child(cmd, env=env)

    if "smollm2-q4_1" in wanted:
        files.append({"name": "smollm2-q4_1", "path": args.smollm,
                      "origin": "SmolLM2-135M-Instruct Q4_1 GGUF as shipped"})
    stypes = [t for t in args.smollm_types if f"smollm2-{t.lower()}" in wanted]
    if stypes:
        f32 = os.path.join(args.workdir, "smollm2-f32.gguf")
        if args.rebuild or not os.path.exists(f32):
            sh([args.longctx, "convert", args.smollm, f32, "--to", "gguf", "--dtype", "f32"])
        for t in stypes:
            q = f32 if t == "F32" else os.path.join(args.workdir, f"smollm2-{t.lower()}.gguf")
            if q != f32 and (args.rebuild or not os.path.exists(q)
                             or os.path.getmtime(q) < os.path.getmtime(f32)):
                sh([py, WORKER, "quantize", f32, q, t, "--threads", str(args.threads)])
            files.append({"name": f"smollm2-{t.lower()}", "path": q,
                          "origin": "SmolLM2-135M-Instruct Q4_1 dequantized to f32 by longctx"
                                    + ("" if t == "F32" else
                                       f", quantized by llama.cpp (LLAMA_FTYPE_MOSTLY_{t})")})
    types = [t for t in args.types if f"s110m-{t.lower()}" in wanted]
    if types:
        binp = os.path.join(args.workdir, "s110m.bin")
        f32 = os.path.join(args.workdir, "s110m-f32.gguf")
        if args.rebuild or not os.path.exists(binp):
            sh([args.longctx, "synth-model", "-o", binp] + S110M_SHAPE + ["--seed", "1"])
        if args.rebuild or not os.path.exists(f32):
            sh([args.longctx, "convert", binp, f32, "--to", "gguf", "--dtype", "f32", "-z",
                args.tokenizer])
        o, _, _ = sh([py, WORKER, "info", "--model", f32, "--threads", str(args.threads)])
        prep["f32_llamacpp_info"] = last_json(o)
        if not prep["f32_llamacpp_info"].get("finite_logits"):
            raise RuntimeError(f"llama.cpp loads {f32} but its logits are not finite")
        log(f"  llama.cpp loads {f32}: {prep['f32_llamacpp_info']['desc']}, "
            f"{prep['f32_llamacpp_info']['n_params'] / 1e6:.1f} M params")
        for t in types:
            q = os.path.join(args.workdir, f"s110m-{t}.gguf")
            if args.rebuild or not os.path.exists(q) or os.path.getmtime(q) < os.path.getmtime(f32):
                sh([py, WORKER, "quantize", f32, q, t, "--threads", str(args.threads)])
            files.append({"name": f"s110m-{t.lower()}", "path": q,
                          "origin": f"random stories110M shape, f32 GGUF by longctx, quantized by "
                                    f"llama.cpp (LLAMA_FTYPE_MOSTLY_{t})"})
    for f in files:
        f["weights"] = weight_bytes(f["path"])
        o, _, _ = run_child([py, WORKER, "info", "--model", f["path"], "--threads",
                             str(args.threads), "--flash-attn", args.llama_flash_attn])
        f["llamacpp_info"] = last_json(o)
        f["parity"] = parity(args, f["path"], f["llamacpp_info"]["n_vocab"])
        log(f"  {f['name']}: {f['llamacpp_info']['desc']}, "
            f"{f['weights']['bytes_per_token'] / 2**20:.1f} MiB of matrices per token, parity: "
            f"argmax agree {f['parity']['argmax_agree']}/{f['parity']['tokens']}, "
            f"max |diff| / max |logit| {f['parity']['rel_max_diff']:.3g}")
    return files, prep


def parity(args, path, n_vocab, n=8):
    """Logits of both engines on the same n random token ids (one sequence from position 0)."""
    import numpy as np
    rng = random.Random(7)
    ids = [rng.randrange(2, n_vocab) for _ in range(n)]
    with tempfile.TemporaryDirectory() as d:
        lc, ll = os.path.join(d, "lc.bin"), os.path.join(d, "ll.npy")
        run_child([args.longctx, "logits", "-m", path, "--tokens", ",".join(map(str, ids)),
                   "--out", lc, "-t", str(args.threads)])
        run_child([args.python, WORKER, "logits", "--model", path, "--tokens",
                   ",".join(map(str, ids)), "--out", ll, "--threads", str(args.threads)])
        b = np.load(ll)
        a = np.fromfile(lc, dtype=np.float32).reshape(b.shape)
    corr = [float(np.corrcoef(a[i], b[i])[0, 1]) for i in range(n)]
    return {"tokens": n, "ids": ids,
            "rel_max_diff": float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)),
            "argmax_agree": int((a.argmax(1) == b.argmax(1)).sum()),
            "min_row_correlation": min(corr)}


# ---------------------------------------------------------------------------------------------
# One measurement


def n_ctx_for(args, test):
    # longctx bench decodes at least one token after the prompt (--gen >= 1)
    need = args.pp + 1 if test == "prefill" else args.tg_prompt + args.tg
    return max(512, -(-need // 256) * 256)


def run_longctx(args, f, test):
    with tempfile.TemporaryDirectory() as d:
        js = os.path.join(d, "b.json")
        prompt, gen = (args.pp, 1) if test == "prefill" else (args.tg_prompt, args.tg)
        cmd = [args.longctx, "bench", "-m", f["path"], "-t", str(args.threads), "--prompt",
               str(prompt), "--gen", str(gen), "--reps", str(args.reps), "--ctx",
               str(n_ctx_for(args, test)), "--json", js] + args.longctx_args
        _, _, info = run_child(cmd, env=child_env(args.threads))
        j = json.load(open(js))
    s = j[test]
    return {"tok_s": s["tok_s_median"], "p10": s["tok_s_p10"], "p90": s["tok_s_p90"],
            "samples": None, "cmd": " ".join(map(shlex.quote, cmd)),
            "engine_info": {k: j.get(k) for k in ("isa", "commit", "ctx", "kv_cache_bytes",
                                                  "weight_bytes", "check_rel_err", "attn")},
            **info}


def run_llamacpp(args, f, test):
    cmd = [args.python, WORKER, "bench", "--model", f["path"], "--mode", test, "--threads",
           str(args.threads), "--pp", str(args.pp), "--tg", str(args.tg), "--tg-prompt",
           str(args.tg_prompt), "--reps", str(args.reps), "--n-ctx", str(n_ctx_for(args, test)),
           "--load-mode", args.llama_load_mode, "--flash-attn", args.llama_flash_attn,
           "--ubatch", str(args.llama_ubatch)]
    o, _, info = run_child(cmd, env=child_env(args.threads))
    j = last_json(o)
    s = j["samples_tok_s"]
    return {"tok_s": quantile(s, 0.5), "p10": quantile(s, 0.1), "p90": quantile(s, 0.9),
            "samples": s, "warmup_tok_s": j["warmup_tok_s"],
            "cmd": " ".join(map(shlex.quote, cmd)),
            "engine_info": {k: j["info"].get(k) for k in ("flash_attn", "repack_buffer_mib",
                                                          "context_params")}, **info}


def run_bandwidth(args, mib):
    cmd = [args.bandwidth, "--mib", str(mib), "--reps", str(args.bw_reps), "--threads",
           str(args.threads)]
    o, e, _ = run_child(cmd, env=child_env(1))
    m = re.search(r"^JSON (\[.*\])\s*$", o, re.M)
    if not m:
        raise RuntimeError(f"bandwidth: no JSON line\n{o}{e}")
    rows = json.loads(m.group(1))
    at = [x for x in rows if int(x["threads"]) == args.threads]
    best = max(at, key=lambda x: float(x["gbps_median"]))
    return {"mib": mib, "gbps": float(best["gbps_median"]), "method": best["method"],
            "rows": rows}


# ---------------------------------------------------------------------------------------------


def machine_info():
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True,
                               env={"LC_ALL": "C"}).stdout
        for key in ("Model name", "CPU(s)", "Thread(s) per core", "L2 cache", "L3 cache"):
            m = re.search(rf"^{re.escape(key)}:\s*(.+)$", lscpu, re.M)
            if m:
                info[key] = m.group(1).strip()
    except OSError:
        pass
    try:
        info["git_commit"] = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                            capture_output=True, text=True).stdout.strip()
        info["git_dirty"] = bool(subprocess.run(["git", "-C", ROOT, "status", "--porcelain",
                                                 "--untracked-files=no"],
                                                capture_output=True, text=True).stdout.strip())
    except OSError:
        pass
    return info


def fmt_rate(s):
    return f"{s['median']:.1f} [{s['min']:.1f}, {s['max']:.1f}]" if s else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--longctx", default=os.path.join(ROOT, "build", "longctx"))
    ap.add_argument("--bandwidth", default=os.path.join(ROOT, "build", "bench", "bandwidth"))
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter with llama_cpp for the llama.cpp runs (default: this one)")
    ap.add_argument("--smollm", default="/work/shared/assets/real_models/"
                                        "SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--tokenizer", default="/work/shared/assets/llama2c/tokenizer.bin",
                    help="llama2.c tokenizer embedded in the s110m GGUF")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "qbench"),
                    help="where the s110m files are built and kept (default build/qbench)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the s110m files")
    ap.add_argument("--types", default="Q4_0,Q4_K_M,Q8_0",
                    help="llama.cpp quantization types of the s110m model")
    ap.add_argument("--files", help="comma-separated subset of: smollm2-q4_1, smollm2-<type>, "
                                    "s110m-<type>")
    ap.add_argument("--tests", default="prefill,decode")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3, help="timed repetitions per process")
    ap.add_argument("--pp", type=int, default=512, help="prefill tokens")
    ap.add_argument("--tg", type=int, default=128, help="decoded tokens")
    ap.add_argument("--tg-prompt", type=int, default=16, help="prompt before decoding")
    ap.add_argument("--bw-mib", type=int, default=2048, help="bandwidth buffer (>> LLC)")
    ap.add_argument("--bw-reps", type=int, default=3)
    ap.add_argument("--no-footprint-bw", action="store_true",
                    help="skip the bandwidth run at a buffer the size of each file's weights")
    ap.add_argument("--llama-load-mode", choices=["none", "mmap", "auto"], default="none")
    ap.add_argument("--llama-flash-attn", choices=["auto", "on", "off"], default="auto",
                    help="llama.cpp's flash attention (auto: its choice, recorded)")
    ap.add_argument("--llama-ubatch", type=int, default=0,
                    help="llama.cpp's n_ubatch (0: the whole prompt in one ubatch)")
    ap.add_argument("--smollm-types", default="",
                    help="SmolLM2 files besides the shipped Q4_1, e.g. F32,F16,BF16,Q8_0")
    ap.add_argument("--longctx-args", default="", help="extra `longctx bench` arguments")
    ap.add_argument("--max-busy", type=float, default=None,
                    help="before each run wait until the CPUs are at most this busy")
    ap.add_argument("--max-wait", type=float, default=60)
    ap.add_argument("--quiet", type=float, default=0.10,
                    help="a round pair is 'quiet' when other processes used at most this "
                         "share of all CPUs during both runs (default 0.10)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 1 round, 1 rep, pp 64, tg 16 after 8, 512 MiB bandwidth")
    ap.add_argument("--label", default="")
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.reps, args.pp, args.tg, args.tg_prompt = 1, 1, 64, 16, 8
        args.bw_mib, args.bw_reps = 512, 1
    args.types = [t.strip().upper() for t in args.types.split(",") if t.strip()]
    args.longctx_args = shlex.split(args.longctx_args)
    tests = [t.strip() for t in args.tests.split(",")]
    if any(t not in ("prefill", "decode") for t in tests):
        ap.error("--tests: prefill and/or decode")
    args.smollm_types = [t.strip().upper() for t in args.smollm_types.split(",") if t.strip()]
    names = (["smollm2-q4_1"] + [f"smollm2-{t.lower()}" for t in args.smollm_types]
             + [f"s110m-{t.lower()}" for t in args.types])
    wanted = names if not args.files else [x.strip().lower() for x in args.files.split(",")]
    bad = [w for w in wanted if w not in names]
    if bad:
        ap.error(f"--files: unknown {bad}; known: {names}")
    for p in (args.longctx, args.bandwidth):
        if not os.path.exists(p):
            ap.error(f"'{p}' does not exist (cmake --build build --target longctx bandwidth)")

    t_start = time.time()
    log("preparing files ...")
    files, prep = prepare(args, wanted)

    engines = ["longctx", "llama.cpp"]
    runners = {"longctx": run_longctx, "llama.cpp": run_llamacpp}
    raw = {f["name"]: {t: {e: [] for e in engines} for t in tests} for f in files}
    bws, fbws = [], {f["name"]: [] for f in files}
    for r in range(args.rounds):
        wait_quiet(args, 0.2)
        bws.append(run_bandwidth(args, args.bw_mib))
        log(f"round {r + 1}/{args.rounds}: read bandwidth {bws[-1]['gbps']:.2f} GB/s "
            f"({args.bw_mib} MiB, {args.threads} threads, {bws[-1]['method']})")
        for fi, f in enumerate(files):
            if not args.no_footprint_bw:
                mib = max(1, math.ceil(f["weights"]["bytes_per_token"] / 2**20))
                fbws[f["name"]].append(run_bandwidth(args, mib))
            for t in tests:
                order = engines if (r + fi) % 2 == 0 else engines[::-1]
                res = {}
                for e in order:
                    busy = wait_quiet(args, 0.2)
                    x = runners[e](args, f, t)
                    x["busy_before"], x["load1"], x["round"] = busy, os.getloadavg()[0], r
                    raw[f["name"]][t][e].append(x)
                    res[e] = x
                log(f"  {f['name']:14s} {t:7s}: longctx {res['longctx']['tok_s']:8.1f}  "
                    f"llama.cpp {res['llama.cpp']['tok_s']:8.1f} tok/s  "
                    f"({res['longctx']['tok_s'] / res['llama.cpp']['tok_s']:.3f}x)  [others "
                    f"{res['longctx']['foreign_cpu_frac'] or 0:.0%}/"
                    f"{res['llama.cpp']['foreign_cpu_frac'] or 0:.0%}]")
    elapsed = time.time() - t_start

    # Summaries.
    results = []
    for f in files:
        for t in tests:
            a, b = raw[f["name"]][t]["longctx"], raw[f["name"]][t]["llama.cpp"]
            sa, sb = summary([x["tok_s"] for x in a]), summary([x["tok_s"] for x in b])
            ratios = [x["tok_s"] / y["tok_s"] for x, y in zip(a, b)]
            quiet = [q for q, x, y in zip(ratios, a, b)
                     if x["foreign_cpu_frac"] is not None and y["foreign_cpu_frac"] is not None
                     and max(x["foreign_cpu_frac"], y["foreign_cpu_frac"]) <= args.quiet]
            entry = {"file": f["name"], "test": t, "longctx": sa, "llama.cpp": sb,
                     "ratio_of_medians": sa["median"] / sb["median"],
                     "per_round_ratio": summary(ratios), "quiet_per_round_ratio": summary(quiet),
                     "target_ratio": TARGETS[t],
                     "foreign_cpu_frac": summary([x["foreign_cpu_frac"] for x in a + b])}
            if t == "decode":
                nb = f["weights"]["bytes_per_token"]
                bw = [x["gbps"] for x in bws]
                entry["weight_bytes_per_token"] = nb
                entry["dram_gbps"] = summary(bw)
                entry["dram_roofline_tok_s"] = summary([g * 1e9 / nb for g in bw])
                for e, rs in (("longctx", a), ("llama.cpp", b)):
                    entry[f"{e}_roofline_frac"] = summary(
                        [x["tok_s"] * nb / (bws[x["round"]]["gbps"] * 1e9) for x in rs])
                if fbws[f["name"]]:
                    fb = [x["gbps"] for x in fbws[f["name"]]]
                    entry["footprint_gbps"] = summary(fb)
                    entry["footprint_mib"] = fbws[f["name"]][0]["mib"]
                    for e, rs in (("longctx", a), ("llama.cpp", b)):
                        entry[f"{e}_footprint_frac"] = summary(
                            [x["tok_s"] * nb / (fbws[f["name"]][x["round"]]["gbps"] * 1e9)
                             for x in rs])
            results.append(entry)

    # Markdown.
    title = args.label or "Quantized GGUF: longctx vs llama.cpp"
    md = [f"### {title}: {args.threads} threads, {args.rounds} interleaved round(s) x "
          f"{args.reps} rep(s), prefill pp{args.pp}, decode {args.tg} tokens after "
          f"{args.tg_prompt}", "",
          "| file | test | longctx tok/s median [min, max] | llama.cpp tok/s median [min, max] "
          "| ratio of medians | per-round ratio median [min, max] | quiet pairs (others <= "
          f"{args.quiet:.0%}): n, median ratio | target |",
          "|---|---|---:|---:|---:|---:|---:|---|"]
    for x in results:
        pr = x["per_round_ratio"]
        ok = "meets" if x["ratio_of_medians"] >= x["target_ratio"] else "below"
        md.append(f"| {x['file']} | {x['test']} | {fmt_rate(x['longctx'])} | "
                  f"{fmt_rate(x['llama.cpp'])} | {x['ratio_of_medians']:.3f} | "
                  f"{pr['median']:.3f} [{pr['min']:.3f}, {pr['max']:.3f}] | "
                  + (f"{q['n']}, {q['median']:.3f} | " if (q := x["quiet_per_round_ratio"])
                     else "0 | ") + f">= {x['target_ratio']:.1f}x: {ok} |")
    dec = [x for x in results if x["test"] == "decode"]
    if dec:
        md += ["", "| file | weight MiB / token (types) | DRAM read GB/s | DRAM roofline tok/s "
                   "| longctx decode % of roofline | llama.cpp % | footprint buffer MiB: GB/s "
                   "| longctx % of footprint roofline | llama.cpp % |",
               "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for x in dec:
            f = next(f for f in files if f["name"] == x["file"])
            types = ", ".join(f"{k} {v / 2**20:.1f}" for k, v in
                              sorted(f["weights"]["by_type"].items(), key=lambda kv: -kv[1]))
            fp = (f"{x['footprint_mib']}: {x['footprint_gbps']['median']:.2f}"
                  if "footprint_gbps" in x else "-")
            fl = (f"{x['longctx_footprint_frac']['median']:.0%}" if "footprint_gbps" in x
                  else "-")
            fb = (f"{x['llama.cpp_footprint_frac']['median']:.0%}" if "footprint_gbps" in x
                  else "-")
            md.append(f"| {x['file']} | {x['weight_bytes_per_token'] / 2**20:.1f} ({types}) | "
                      f"{x['dram_gbps']['median']:.2f} | "
                      f"{x['dram_roofline_tok_s']['median']:.0f} | "
                      f"{x['longctx_roofline_frac']['median']:.0%} | "
                      f"{x['llama.cpp_roofline_frac']['median']:.0%} | {fp} | {fl} | {fb} |")
    md += ["", "Parity (same 8 random token ids, all positions' logits): " + "; ".join(
        f"{f['name']}: argmax {f['parity']['argmax_agree']}/{f['parity']['tokens']}, "
        f"max|diff|/max|logit| {f['parity']['rel_max_diff']:.3f}" for f in files) + "."]
    fa = {f["llamacpp_info"].get("flash_attn") for f in files}
    rp = ", ".join(f"{f['name']} {f['llamacpp_info'].get('repack_buffer_mib', 0):.1f}"
                   for f in files)
    isa = {x["engine_info"]["isa"] for rs in raw.values() for d in rs.values()
           for x in d["longctx"]}
    fc = summary([x["foreign_cpu_frac"] for rs in raw.values() for d in rs.values()
                  for e in d.values() for x in e])
    md += ["", f"longctx ISA {', '.join(sorted(map(str, isa)))}; llama-cpp-python "
               f"{files[0]['llamacpp_info']['llama_cpp_python']}, flash attention "
               f"{', '.join(sorted(map(str, fa)))}, REPACK buffer MiB: {rp}. Other processes "
               f"used {fc['median']:.0%} (max {fc['max']:.0%}) of the CPUs during the runs; "
               f"elapsed {elapsed:.0f} s.", ""]
    text = "\n".join(md)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(text)
    if args.json:
        out = {"label": args.label, "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
               "argv": sys.argv, "settings": {k: v for k, v in vars(args).items()},
               "machine": machine_info(), "elapsed_s": elapsed, "prepare": prep,
               "files": files, "bandwidth_per_round": bws, "footprint_bandwidth_per_round": fbws,
               "results": results, "raw": raw,
               "definitions": {
                   "tok_s": "per process: median of --reps timed repetitions after one warm-up",
                   "prefill": "pp random tokens from an empty KV cache, last logits only",
                   "decode": "tg greedy steps (argmax + 1-token forward) after tg_prompt "
                             "random tokens",
                   "weight_bytes_per_token": "all 2-D weight matrices incl. the output matrix "
                                             "(token_embd when tied); no embedding lookups, no "
                                             "norm vectors, no KV cache",
                   "roofline_frac": "tok_s x weight_bytes_per_token / read bandwidth of the "
                                    "same round (bench/bandwidth, best method at --threads)"}}
        write_json_atomic(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
