#!/usr/bin/env python3
"""llama.cpp side of bench/quantized_vs_llamacpp.py and bench/ppl_vs_llamacpp.py.

Drives llama.cpp through llama-cpp-python's low-level ctypes API (`import llama_cpp`; on this
machine: llama-cpp-python 0.3.36 for Debian's /usr/bin/python3, CPU build with AVX512/VNNI and
REPACK). No llama.cpp code is in this repository; this file only calls the installed library.

As a command (each timing run is its own process, like each `longctx bench`), JSON on stdout:

  llamacpp_worker.py info     --model F [--threads T]
        loads F, decodes 4 tokens, reports the model description, parameter count, size, the
        resolved flash-attention setting and that the logits are finite
  llamacpp_worker.py bench    --model F --mode prefill|decode [--threads 2] [--pp 512]
                              [--tg 128] [--tg-prompt 16] [--reps 3] [--n-ctx N] [--seed S]
        prefill: one llama_decode of --pp random tokens from an empty KV cache (the batch is
                 one ubatch: n_batch = n_ubatch = max(512, pp)); logits of the last token only
                 (llama_batch_get_one); tok/s = pp / (time of llama_decode + llama_synchronize)
        decode:  --tg-prompt random tokens are decoded (untimed), then --tg steps of
                 [greedy sample (llama_sampler_init_greedy: argmax of the last logits) ->
                 llama_decode of that one token]; tok/s = tg / time of the loop
        one untimed warm-up repetition, then --reps timed ones; every sample is reported
  llamacpp_worker.py logits   --model F --tokens ID,ID,... --out FILE.npy
        all positions' logits [n, vocab] float32 (one sequence from position 0)
  llamacpp_worker.py quantize SRC DST TYPE [--threads T]
        llama_model_quantize with llama_model_quantize_default_params and
        ftype = LLAMA_FTYPE_MOSTLY_<TYPE> (e.g. Q4_0, Q4_K_M, Q8_0)

Settings common to all: n_gpu_layers 0, load_mode NONE by default (weights read into memory,
no mmap: nothing is faulted in from the page cache during timing; --load-mode mmap for the
library default), n_threads = n_threads_batch = --threads, KV cache f16 (llama.cpp's default),
flash attention llama.cpp's default (auto; the resolved value is read from its log) unless
--flash-attn on|off says otherwise; bench --ubatch N sets n_ubatch (llama-bench's default is 512).
"""

import argparse
import ctypes
import json
import os
import random
import re
import sys
import time

import llama_cpp as L

_LOG_CB = None
_LOG_LINES = []


@L.llama_progress_callback
def _no_progress(progress, user):  # instead of llama.cpp's dots on stderr while loading
    return True


def capture_logs(echo_level=None):
    """Routes llama.cpp's log into _LOG_LINES (echoing levels >= echo_level to stderr)."""
    global _LOG_CB

    @L.llama_log_callback
    def cb(level, text, user):
        s = text.decode("utf-8", "replace") if text else ""
        _LOG_LINES.append(s)
        if echo_level is not None and level >= echo_level:
            sys.stderr.write(s)

    _LOG_CB = cb  # keep a reference: the library calls it later
    L.llama_log_set(cb, ctypes.c_void_p(0))


def log_text():
    return "".join(_LOG_LINES)


# auto: llama.cpp decides (the resolved value is read from its log).
FLASH_ATTN = {"auto": L.LLAMA_FLASH_ATTN_TYPE_AUTO, "off": L.LLAMA_FLASH_ATTN_TYPE_DISABLED,
              "on": L.LLAMA_FLASH_ATTN_TYPE_ENABLED}

LOAD_MODES = {"none": L.LLAMA_LOAD_MODE_NONE, "mmap": L.LLAMA_LOAD_MODE_MMAP,
              "auto": L.LLAMA_LOAD_MODE_AUTO}


class Engine:
    """One llama.cpp model + context (single sequence)."""

    def __init__(self, path, n_ctx, threads, n_batch=512, n_ubatch=512, load_mode="none",
                 all_outputs=False, flash_attn="auto"):
        L.llama_backend_init()
        mp = L.llama_model_default_params()
        mp.n_gpu_layers = 0
        mp.load_mode = LOAD_MODES[load_mode]
        mp.progress_callback = _no_progress
        self.path = path
        self.model = L.llama_model_load_from_file(path.encode(), mp)
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load {path}:\n{log_text()[-3000:]}")
        cp = L.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = n_batch
        cp.n_ubatch = n_ubatch
        cp.n_threads = threads
        cp.n_threads_batch = threads
        if all_outputs:  # logits of every token of a batch (perplexity, parity checks)
            cp.n_outputs_max = n_batch
            cp.n_outputs_max_per_seq = n_batch
        cp.no_perf = True
        cp.flash_attn_type = FLASH_ATTN[flash_attn]
        self.cparams = {"n_ctx": n_ctx, "n_batch": n_batch, "n_ubatch": n_ubatch,
                        "n_threads": threads, "n_threads_batch": threads,
                        "type_k": cp.type_k, "type_v": cp.type_v,
                        "flash_attn_type_requested": cp.flash_attn_type,
                        "load_mode": load_mode}
        self.ctx = L.llama_init_from_model(self.model, cp)
        if not self.ctx:
            raise RuntimeError(f"llama.cpp could not create a context:\n{log_text()[-3000:]}")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)
        self.mem = L.llama_get_memory(self.ctx)
        self._one = (L.llama_token * 1)()

    def close(self):
        L.llama_free(self.ctx)
        L.llama_model_free(self.model)

    def info(self):
        buf = ctypes.create_string_buffer(256)
        L.llama_model_desc(self.model, buf, 256)
        text = log_text()
        fa = re.findall(r"Flash Attention (enabled|disabled)", text)
        repack = re.findall(r"CPU_REPACK model buffer size\s*=\s*([0-9.]+) MiB", text)
        return {"desc": buf.value.decode(), "n_params": L.llama_model_n_params(self.model),
                "model_size_bytes": L.llama_model_size(self.model), "n_vocab": self.n_vocab,
                "n_ctx_train": L.llama_model_n_ctx_train(self.model),
                "bos": L.llama_vocab_bos(self.vocab),
                "add_bos": bool(L.llama_vocab_get_add_bos(self.vocab)),
                "add_bos": bool(L.llama_vocab_get_add_bos(self.vocab)),
                # llama.cpp logs the resolved value under auto; a forced value is what was asked
                "flash_attn": (fa[-1] if fa else
                               {FLASH_ATTN["off"]: "disabled (forced)",
                                FLASH_ATTN["on"]: "enabled (forced)"}.get(
                                   self.cparams["flash_attn_type_requested"],
                                   "? (not in the log)")),
                "repack_buffer_mib": float(repack[-1]) if repack else 0.0,
                "context_params": self.cparams,
                "system_info": L.llama_print_system_info().decode(),
                "llama_cpp_python": L.__version__}

    def clear(self):
        L.llama_memory_clear(self.mem, True)

    def decode_batch(self, ids):
        """Appends ids (logits of the last one only)."""
        arr = (L.llama_token * len(ids))(*ids)
        rc = L.llama_decode(self.ctx, L.llama_batch_get_one(arr, len(ids)))
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")

    def decode_one(self, tok):
        self._one[0] = tok
        rc = L.llama_decode(self.ctx, L.llama_batch_get_one(self._one, 1))
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")

    def all_logits(self, ids, pos0=0):
        """Appends ids at positions pos0.. in one llama_decode (len(ids) <= n_batch) and
        returns their logits as a [n, vocab] float32 numpy array (a copy)."""
        import numpy as np
        n = len(ids)
        b = L.llama_batch_init(n, 0, 1)
        try:
            b.n_tokens = n
            for i, t in enumerate(ids):
                b.token[i] = t
                b.pos[i] = pos0 + i
                b.n_seq_id[i] = 1
                b.seq_id[i][0] = 0
                b.logits[i] = 1
            rc = L.llama_decode(self.ctx, b)
            if rc != 0:
                raise RuntimeError(f"llama_decode returned {rc}")
            ptr = L.llama_get_logits(self.ctx)
            return np.ctypeslib.as_array(ptr, shape=(n * self.n_vocab,)).reshape(
                n, self.n_vocab).copy()
        finally:
            L.llama_batch_free(b)

    def time_prefill(self, ids):
        self.clear()
        t0 = time.perf_counter()
        self.decode_batch(ids)
        L.llama_synchronize(self.ctx)
        return len(ids) / (time.perf_counter() - t0)

    def time_decode(self, prompt, n):
        self.clear()
        self.decode_batch(prompt)
        L.llama_synchronize(self.ctx)
        smpl = L.llama_sampler_init_greedy()
        try:
            t0 = time.perf_counter()
            for _ in range(n):
                tok = L.llama_sampler_sample(smpl, self.ctx, -1)
                self.decode_one(tok)
            L.llama_synchronize(self.ctx)
            return n / (time.perf_counter() - t0)
        finally:
            L.llama_sampler_free(smpl)


def quantize(src, dst, type_name, threads=2):
    ftype = getattr(L, "LLAMA_FTYPE_MOSTLY_" + type_name.upper())
    p = L.llama_model_quantize_default_params()
    p.ftype = ftype
    p.nthread = threads
    rc = L.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(p))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize({src} -> {dst}, {type_name}) returned {rc}")
    return {"src": src, "dst": dst, "ftype": f"LLAMA_FTYPE_MOSTLY_{type_name.upper()}",
            "ftype_value": ftype, "params": "llama_model_quantize_default_params()"}


def main():
    ap = argparse.ArgumentParser(description="llama.cpp timing/inspection worker")
    sub = ap.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--threads", type=int, default=2)
    common.add_argument("--load-mode", choices=sorted(LOAD_MODES), default="none")
    common.add_argument("--flash-attn", choices=sorted(FLASH_ATTN), default="auto")
    common.add_argument("--verbose", action="store_true", help="echo llama.cpp's log")
    pi = sub.add_parser("info", parents=[common])
    pi.add_argument("--model", required=True)
    pb = sub.add_parser("bench", parents=[common])
    pb.add_argument("--model", required=True)
    pb.add_argument("--mode", choices=["prefill", "decode"], required=True)
    pb.add_argument("--pp", type=int, default=512)
    pb.add_argument("--tg", type=int, default=128)
    pb.add_argument("--tg-prompt", type=int, default=16)
    pb.add_argument("--reps", type=int, default=3)
    pb.add_argument("--n-ctx", type=int, default=0)
    pb.add_argument("--seed", type=int, default=1)
    pb.add_argument("--ubatch", type=int, default=0,
                    help="n_ubatch (0: one ubatch, n_ubatch = n_batch = max(512, prompt))")
    pl = sub.add_parser("logits", parents=[common])
    pl.add_argument("--model", required=True)
    pl.add_argument("--tokens", required=True)
    pl.add_argument("--out", required=True)
    pq = sub.add_parser("quantize", parents=[common])
    pq.add_argument("src")
    pq.add_argument("dst")
    pq.add_argument("type")
    a = ap.parse_args()
    capture_logs(echo_level=0 if a.verbose else 4)  # 4 = GGML_LOG_LEVEL_ERROR

    if a.cmd == "quantize":
        out = quantize(a.src, a.dst, a.type, a.threads)
        out["bytes"] = os.path.getsize(a.dst)
    elif a.cmd == "info":
        e = Engine(a.model, 512, a.threads, load_mode=a.load_mode, all_outputs=True,
                   flash_attn=a.flash_attn)
        import numpy as np
        lg = e.all_logits([1, 2, 3, 4][: e.n_vocab])
        out = e.info()
        out["finite_logits"] = bool(np.isfinite(lg).all())
        out["argmax_last"] = int(lg[-1].argmax())
        e.close()
    elif a.cmd == "logits":
        import numpy as np
        ids = [int(x) for x in a.tokens.split(",")]
        n = len(ids)
        e = Engine(a.model, max(512, n), a.threads, n_batch=max(512, n), n_ubatch=max(512, n),
                   load_mode=a.load_mode, all_outputs=True)
        np.save(a.out, e.all_logits(ids))
        out = {"tokens": n, "out": a.out, "info": e.info()}
        e.close()
    else:
        n_batch = max(512, a.pp if a.mode == "prefill" else a.tg_prompt)
        need = a.pp if a.mode == "prefill" else a.tg_prompt + a.tg
        n_ctx = a.n_ctx or max(512, -(-need // 256) * 256)
        e = Engine(a.model, n_ctx, a.threads, n_batch=n_batch,
                   n_ubatch=min(a.ubatch, n_batch) if a.ubatch > 0 else n_batch,
                   load_mode=a.load_mode, flash_attn=a.flash_attn)
        rng = random.Random(a.seed)
        n = a.pp if a.mode == "prefill" else a.tg_prompt
        prompt = [rng.randrange(e.n_vocab) for _ in range(n)]
        samples = []
        for rep in range(a.reps + 1):  # rep 0 is the warm-up
            if a.mode == "prefill":
                tps = e.time_prefill(prompt)
            else:
                tps = e.time_decode(prompt, a.tg)
            samples.append(tps)
        out = {"mode": a.mode, "pp": a.pp, "tg": a.tg, "tg_prompt": a.tg_prompt,
               "warmup_tok_s": samples[0], "samples_tok_s": samples[1:], "info": e.info()}
        e.close()
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
