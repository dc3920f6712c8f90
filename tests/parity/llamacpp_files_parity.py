#!/usr/bin/env python3
"""Quantized files as llama.cpp writes them, run by longctx and by llama.cpp.

llama.cpp's own quantizer (llama_model_quantize through llama-cpp-python, requantizing the
shipped SmolLM2-135M-Instruct Q4_1 file) writes one file per type and per-tensor mix: Q4_0,
Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K_M, Q4_K_M, Q5_K_M, Q6_K, IQ4_NL, IQ4_XS. SmolLM2's rows are
576 wide, not a multiple of 256, so in the K-quant files llama.cpp falls back to Q5_0 / Q5_1 /
Q8_0 / IQ4_NL for most tensors and keeps K-quants where rows are 1536 wide (ffn_down): each file
is a real per-tensor mix, printed below. For each file and each of the three reference prompts:
longctx's greedy continuation (N tokens, `longctx run --tokens IDS --ids`) against llama.cpp's
(f16 KV cache, its default), with llama.cpp's agreement with itself under an f32 cache as the
noise yardstick (as in smollm2_parity.py), and the max |logit difference| over the prompt.
Exit status 1 when llama.cpp cannot load a file, longctx cannot run it, or longctx parts from
llama.cpp anywhere but at a near tie (its own logits for the two tokens within MAX_GAP).

usage: llamacpp_files_parity.py LONGCTX ASSETS WORKDIR
"""
import collections
import ctypes
import json
import subprocess
import sys

import numpy as np

N = 32
# A divergence is a near tie when longctx's own logits for its token and llama.cpp's differ by
# less than this: llama.cpp's logits themselves move by up to 1.4 on this model when only its KV
# cache precision changes (f16 -> f32), and greedy_parity.py uses the same bound.
MAX_GAP = 2.0
TYPES = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K",
         "IQ4_NL", "IQ4_XS"]


def common_prefix(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def main():
    exe, assets, work = sys.argv[1:4]
    import llama_cpp
    from gguf import GGUFReader
    src = f"{assets}/real_models/SmolLM2-135M-Instruct.Q4_1.gguf"
    ref = json.load(open(f"{assets}/reference_outputs/smollm2_q4_1_llamacpp.json"))
    ok = True
    rows = []
    for name in TYPES:
        out = f"{work}/smollm2-{name}.gguf"
        p = llama_cpp.llama_model_quantize_default_params()
        p.ftype = getattr(llama_cpp, "LLAMA_FTYPE_MOSTLY_" + name)
        p.nthread = 2
        p.allow_requantize = True
        if llama_cpp.llama_model_quantize(src.encode(), out.encode(), ctypes.byref(p)) != 0:
            print(f"FAIL {name}: llama.cpp's quantizer failed")
            ok = False
            continue
        mix = collections.Counter(t.tensor_type.name for t in GGUFReader(out).tensors)
        engines = {kv: llama_cpp.Llama(out, n_ctx=512, n_threads=2, verbose=False, type_k=t,
                                       type_v=t) for kv, t in (("f16", 1), ("f32", 0))}
        worst = []
        for case in ref["cases"]:
            ids = case["prompt_ids"]
            greedy = {}
            for kv, m in engines.items():
                m.reset()
                g = []
                for t in m.generate(ids, temp=0.0, top_k=1, reset=True):
                    g.append(int(t))
                    if len(g) == N:
                        break
                greedy[kv] = g
            r = subprocess.run([exe, "run", "-m", out, "--tokens", ",".join(map(str, ids)), "-n",
                                str(N), "--temp", "0", "--ids"], capture_output=True, text=True)
            if r.returncode != 0:
                print(f"FAIL {name}: longctx run: {r.stderr.strip()}")
                ok = False
                break
            ours = [int(t) for t in r.stdout.strip().split(",") if t]
            agree = common_prefix(ours, greedy["f16"])
            self_agree = common_prefix(greedy["f32"], greedy["f16"])
            # Logits over prompt + llama.cpp's continuation, both engines on the same ids.
            seq = ids + greedy["f16"]
            lg = f"{work}/files_logits.f32"
            subprocess.run([exe, "logits", "-m", out, "--tokens", ",".join(map(str, seq)), "--out",
                            lg], check=True, capture_output=True)
            ours_l = np.fromfile(lg, dtype=np.float32).reshape(len(seq), -1)
            m = llama_cpp.Llama(out, n_ctx=512, n_threads=2, verbose=False, logits_all=True)
            m.eval(seq)
            theirs_l = np.array(m.scores[:len(seq)], dtype=np.float32)
            diff = float(np.abs(ours_l[:len(ids)] - theirs_l[:len(ids)]).max())
            gap = 0.0
            if agree < N and agree < len(ours):
                p = len(ids) - 1 + agree
                gap = float(ours_l[p, ours[agree]] - ours_l[p, greedy["f16"][agree]])
                if gap > MAX_GAP:
                    print(f"FAIL {name} {case['prompt'][:30]!r}: parts from llama.cpp at token {agree}"
                          f" by {gap:.2f} logits, more than a near tie")
                    ok = False
            worst.append((agree, self_agree, diff, gap))
        if len(worst) == len(ref["cases"]):
            mix_s = " ".join(f"{k}:{v}" for k, v in sorted(mix.items()))
            agrees = ", ".join(f"{a}/{N} (gap {g:.2f}; llama.cpp f32 cache {s}/{N})"
                               for a, s, _, g in worst)
            print(f"{name:7s} [{mix_s}] longctx = llama.cpp for {agrees}; "
                  f"prompt logits max|diff| {max(w[2] for w in worst):.3f}")
            rows.append({"type": name, "mix": dict(mix), "agree": [w[0] for w in worst],
                         "llama_self_agree": [w[1] for w in worst],
                         "gap_at_divergence": [w[3] for w in worst],
                         "logits_max_diff": max(w[2] for w in worst)})
    json.dump(rows, open(f"{work}/llamacpp_files_parity.json", "w"), indent=1)
    print(f"llamacpp_files_parity: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
