#!/usr/bin/env python3
"""Files that `longctx convert` writes, in every --dtype, decoded greedily by llama.cpp and by
longctx.

SmolLM2-135M-Instruct (the Q4_1 GGUF of the shared assets) is converted with longctx into every
type. For each file, llama.cpp (llama-cpp-python: n_ctx 512, 2 threads) must load it; then for
each prompt (tokenized by llama.cpp without BOS, as the file's add_bos_token false asks) it
decodes 32 tokens greedily. longctx scores the same ids -- the prompt then llama.cpp's 32
tokens -- in one `longctx logits --tokens` call (explicit ids: no tokenizer, no BOS); its argmax
after each prefix is its greedy choice there, so the number of leading positions where it picks
llama.cpp's token is the length of the common greedy prefix ("matched N/32"). Where they first
differ, the gap between longctx's logits of its token and llama.cpp's shows whether that was a
near tie: both engines quantize activations to 8 bits in their quantized products and differ by
a few tenths of a logit on these files, so near ties are expected to flip; a gap above
MAX_GAP logits would be a real disagreement and fails the check. `longctx run -p PROMPT` is also
run on every file (it must succeed; its text is compared with llama.cpp's, informational).

usage: greedy_parity.py LONGCTX ASSETS WORKDIR
"""
import os
import subprocess
import sys

import numpy as np

N_GEN = 32
MAX_GAP = 2.0
DTYPES = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k", "q4_k",
          "q5_k", "q6_k", "iq4_nl", "iq4_xs", "q4_k_m", "q5_k_m"]
PROMPTS = ["The capital of France is",
           "Once upon a time, in a small village by the sea,",
           'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n']


def sh(*args):
    r = subprocess.run([str(a) for a in args], capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"command failed ({r.returncode}): {' '.join(map(str, args))}\n"
                           f"{r.stderr.decode(errors='replace')}")
    return r


def llama_greedy(llama_cpp, path):
    llm = llama_cpp.Llama(path, n_ctx=512, n_threads=2, logits_all=False, verbose=False)
    n_vocab = llm.n_vocab()
    out = []
    for p in PROMPTS:
        ids = llm.tokenize(p.encode(), add_bos=False, special=False)
        llm.reset()
        llm.eval(ids)
        gen = []
        for _ in range(N_GEN):
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,))
            gen.append(int(np.argmax(logits)))
            llm.eval([gen[-1]])
        out.append((ids, gen, llm.detokenize(gen).decode(errors="replace")))
    del llm
    return out


def longctx_choices(longctx, path, ids, gen, work):
    seq = ids + gen[:-1]
    out = os.path.join(work, "greedy_logits.bin")
    sh(longctx, "logits", "-m", path, "--tokens", ",".join(map(str, seq)), "--out", out)
    logits = np.fromfile(out, dtype=np.float32).reshape(len(seq), -1)[len(ids) - 1:]
    return logits


def main():
    longctx, assets, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    try:
        import llama_cpp
    except ImportError:
        print("greedy_parity: SKIPPED (llama_cpp, i.e. llama-cpp-python, is not installed)")
        return 0
    src = os.path.join(assets, "real_models/SmolLM2-135M-Instruct.Q4_1.gguf")
    if not os.path.exists(src):
        print(f"greedy_parity: SKIPPED ({src} not found)")
        return 0
    print(f"greedy_parity: SmolLM2-135M converted by longctx into every type; greedy {N_GEN} "
          f"tokens, llama.cpp (llama-cpp-python {llama_cpp.__version__}) vs longctx, "
          f"{len(PROMPTS)} prompts")
    ok = True
    for dtype in DTYPES:
        path = os.path.join(work, f"smollm2_{dtype}.gguf")
        conv = sh(longctx, "convert", src, path, "--dtype", dtype).stderr.decode().strip()
        size = os.path.getsize(path)
        try:
            results = llama_greedy(llama_cpp, path)
        except Exception as e:  # noqa: BLE001 - any load failure is the finding
            print(f"  {dtype:<7} {size / 2**20:7.1f} MiB: llama.cpp FAILED to load: {e}")
            ok = False
            os.remove(path)
            continue
        matched, notes = [], []
        for (ids, gen, text), prompt in zip(results, PROMPTS):
            logits = longctx_choices(longctx, path, ids, gen, work)
            pick = logits.argmax(axis=1)
            n = next((i for i in range(N_GEN) if pick[i] != gen[i]), N_GEN)
            matched.append(n)
            if n < N_GEN:
                gap = float(logits[n, pick[n]] - logits[n, gen[n]])
                notes.append(f"@{n} gap {gap:.2f}")
                if gap > MAX_GAP:
                    ok = False
                    notes[-1] += " (NOT a near tie)"
            run = subprocess.run([longctx, "run", "-m", path, "-p", prompt, "-n", str(N_GEN),
                                  "--temp", "0"], capture_output=True)
            if run.returncode != 0:
                ok = False
                notes.append(f"longctx run FAILED: {run.stderr.decode(errors='replace').strip()}")
            elif run.stdout.decode(errors="replace").strip() != (prompt + text).strip():
                notes.append("run text differs")
        types = conv[conv.find("tensors:") + 9:].rstrip(")") if "tensors:" in conv else ""
        print(f"  {dtype:<7} {size / 2**20:7.1f} MiB, llama.cpp loads it; matched "
              f"{'/'.join(map(str, matched))} of {N_GEN}"
              f"{' (' + ', '.join(notes) + ')' if notes else ''}; [{types}]")
        os.remove(path)
    print("greedy_parity:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
