#!/usr/bin/env python3
"""Block-quantized GGUF: longctx against the gguf PyPI package and llama.cpp.

1. Dequantizers, bit for bit. A GGUF written with gguf.GGUFWriter holds one raw tensor of every
   quantized type (random bytes; the fp16 scale fields set to normal, zero, subnormal and
   +-65504 values); `longctx convert X Y --to gguf --dtype f32` dequantizes it with longctx's
   reference dequantizers, and every element of Y must equal gguf.quants.dequantize of X's bytes
   bit for bit.
2. Quantizers, against llama.cpp's own (llama-cpp-python's llama_model_quantize, --pure, no
   importance matrix), on SmolLM2-135M's weights (dequantized to f32 first) and on a synthetic
   model whose rows fit every block size (heavy-tailed weights, zero and constant rows): for
   every type, the tensors must get the same types (the fallbacks for rows that do not fit) and
   longctx's RMS error against the f32 weights must not exceed llama.cpp's; the share of blocks
   that are byte-identical is reported (expected: all).
3. The q4_k_m / q5_k_m mixes: llama.cpp (not pure) and longctx must choose the same type for
   every tensor, on both models.

Parts 2 and 3 need llama_cpp (skipped, saying so, without it) and the SmolLM2 asset (the
synthetic model runs regardless).

usage: quant_parity.py LONGCTX ASSETS WORKDIR
"""
import ctypes
import importlib.metadata
import os
import subprocess
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT

TYPES = ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k",
         "iq4_nl", "iq4_xs"]
QTYPE = {t: getattr(QT, t.upper()) for t in TYPES}
# llama_ftype of each --dtype (llama.h); q3_k/q4_k/q5_k as the _S file types (default type).
FTYPE = {"q8_0": 7, "q4_0": 2, "q4_1": 3, "q5_0": 8, "q5_1": 9, "q2_k": 10, "q3_k": 11,
         "q4_k": 14, "q5_k": 16, "q6_k": 18, "iq4_nl": 25, "iq4_xs": 30, "q4_k_m": 15,
         "q5_k_m": 17}
# Byte offsets of the fp16 scale fields in one block (ggml-common.h's structs).
SCALE_FIELDS = {"q8_0": [0], "q4_0": [0], "q4_1": [0, 2], "q5_0": [0], "q5_1": [0, 2],
                "iq4_nl": [0], "q2_k": [80, 82], "q3_k": [108], "q4_k": [0, 2], "q5_k": [0, 2],
                "q6_k": [208], "iq4_xs": [0]}


def sh(*args, quiet=False):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"command failed ({r.returncode}): {' '.join(map(str, args))}\n"
                           f"{r.stdout}{r.stderr}")
    return r


def llama_metadata(w, d, hidden, layers, heads, kv_heads, vocab):
    w.add_context_length(256)
    w.add_embedding_length(d)
    w.add_block_count(layers)
    w.add_feed_forward_length(hidden)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_rope_dimension_count(d // heads)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_uint32("llama.vocab_size", vocab)


def write(w):
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def random_scales(rng, n):
    """fp16 bit patterns: 60% normal (|d| ~ 1e-3..1), then zeros, subnormals, +-65504."""
    normal = np.float16(rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 0, n)).view(np.uint16)
    kind = rng.choice(4, size=n, p=[0.6, 0.1, 0.2, 0.1])
    sign = rng.integers(0, 2, n).astype(np.uint16) << 15
    sub = rng.integers(1, 0x400, n).astype(np.uint16)
    out = np.where(kind == 0, normal, np.where(kind == 1, sign, np.where(kind == 2, sign | sub,
                                                                           sign | 0x7BFF)))
    return out.astype(np.uint16)


def dequant_parity(longctx, work):
    rng = np.random.default_rng(1)
    path = os.path.join(work, "quant_blocks.gguf")
    d, rows = 512, 48
    w = gguf.GGUFWriter(path, "llama")
    llama_metadata(w, d, d, 1, 4, 4, 16)
    w.add_tensor("token_embd.weight", rng.standard_normal((16, d)).astype(np.float32))
    w.add_tensor("output_norm.weight", np.ones(d, dtype=np.float32))
    raw = {}
    for t in TYPES:
        block, nbytes = gguf.GGML_QUANT_SIZES[QTYPE[t]]
        n_blocks = rows * d // block
        b = rng.integers(0, 256, size=(n_blocks, nbytes), dtype=np.uint8)
        for off in SCALE_FIELDS[t]:
            b[:, off:off + 2] = random_scales(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
        b = b.reshape(rows, -1)
        raw[t] = b
        w.add_tensor(f"blocks_{t}.weight", b, raw_dtype=QTYPE[t])
    write(w)
    out = os.path.join(work, "quant_blocks_f32.gguf")
    sh(longctx, "convert", path, out, "--dtype", "f32")
    got = {t.name: t for t in gguf.GGUFReader(out).tensors}
    ok = True
    print("  1. dequantizers vs gguf.quants.dequantize, random blocks "
          f"({rows} rows x {d}, scales normal/zero/subnormal/+-65504):")
    for t in TYPES:
        want = gguf.quants.dequantize(raw[t], QTYPE[t]).astype(np.float32).reshape(-1)
        g = got[f"blocks_{t}.weight"]
        y = np.asarray(g.data, dtype=np.float32).reshape(-1)
        same = g.tensor_type == QT.F32 and y.shape == want.shape and \
            np.array_equal(y.view(np.uint32), want.view(np.uint32))
        n_diff = int((y.view(np.uint32) != want.view(np.uint32)).sum()) if y.shape == want.shape \
            else -1
        print(f"     {t:<7} {want.size} values, max |x| {np.abs(want).max():.3g}: "
              f"{'bit-exact' if same else f'{n_diff} DIFFER'}")
        ok &= same
    return ok


def synthetic_f32(work):
    """8 layers, d 512, hidden 1024, untied: every row fits every block size. Weights: Student-t
    (3 d.o.f.) times 0.02, with an all-zero and a constant row in some matrices."""
    rng = np.random.default_rng(2)
    d, hidden, layers, heads, kv_heads, vocab = 512, 1024, 8, 4, 2, 256
    kv = d // heads * kv_heads
    path = os.path.join(work, "synthetic_f32.gguf")
    w = gguf.GGUFWriter(path, "llama")
    llama_metadata(w, d, hidden, layers, heads, kv_heads, vocab)

    def mat(r, c):
        m = (rng.standard_t(3, size=(r, c)) * 0.02).astype(np.float32)
        m[rng.integers(r)] = 0.0
        m[rng.integers(r)] = np.float32(0.0137)
        return m

    w.add_tensor("token_embd.weight", mat(vocab, d))
    for l in range(layers):
        p = f"blk.{l}."
        w.add_tensor(p + "attn_norm.weight", np.ones(d, dtype=np.float32))
        w.add_tensor(p + "attn_q.weight", mat(d, d))
        w.add_tensor(p + "attn_k.weight", mat(kv, d))
        w.add_tensor(p + "attn_v.weight", mat(kv, d))
        w.add_tensor(p + "attn_output.weight", mat(d, d))
        w.add_tensor(p + "ffn_norm.weight", np.ones(d, dtype=np.float32))
        w.add_tensor(p + "ffn_gate.weight", mat(hidden, d))
        w.add_tensor(p + "ffn_up.weight", mat(hidden, d))
        w.add_tensor(p + "ffn_down.weight", mat(d, hidden))
    w.add_tensor("output_norm.weight", np.ones(d, dtype=np.float32))
    w.add_tensor("output.weight", mat(vocab, d))
    write(w)
    return path


def llama_cpp_quantize(src, dst, ftype, pure):
    """llama.cpp's quantizer in a child process (it logs every tensor on stderr)."""
    code = ("import ctypes, sys, llama_cpp\n"
            "p = llama_cpp.llama_model_quantize_default_params()\n"
            f"p.ftype = {ftype}; p.pure = {pure}; p.nthread = 2\n"
            f"sys.exit(llama_cpp.llama_model_quantize({src!r}.encode(), {dst!r}.encode(), "
            "ctypes.byref(p)))\n")
    sh(sys.executable, "-c", code)


def tensors(path):
    return {t.name: t for t in gguf.GGUFReader(path).tensors}


def compare_quantizers(name, f32, lc, cpp):
    """Same types per tensor; per quantized type: identical blocks and RMS error vs f32."""
    ref, a, b = tensors(f32), tensors(lc), tensors(cpp)
    errors, stats = [], {}
    for n, t in a.items():
        u = b.get(n)
        if u is None or u.tensor_type != t.tensor_type:
            errors.append(f"{n}: longctx {t.tensor_type.name}, llama.cpp "
                          f"{u.tensor_type.name if u else 'missing'}")
            continue
        if t.tensor_type in (QT.F32, QT.F16):
            continue
        size = gguf.GGML_QUANT_SIZES[t.tensor_type][1]
        x, y = np.asarray(t.data).reshape(-1, size), np.asarray(u.data).reshape(-1, size)
        w = np.asarray(ref[n].data, dtype=np.float32).reshape(-1).astype(np.float64)
        ea = gguf.quants.dequantize(np.asarray(t.data), t.tensor_type).reshape(-1) - w
        eb = gguf.quants.dequantize(np.asarray(u.data), u.tensor_type).reshape(-1) - w
        s = stats.setdefault(t.tensor_type.name, [0, 0, 0.0, 0.0, 0])
        s[0] += int((x == y).all(axis=1).sum())
        s[1] += x.shape[0]
        s[2] += float((ea ** 2).sum())
        s[3] += float((eb ** 2).sum())
        s[4] += w.size
    parts = []
    for k, (same, n_blocks, sa, sb, n) in stats.items():
        ra, rb = np.sqrt(sa / n), np.sqrt(sb / n)
        parts.append(f"{k} {same}/{n_blocks} blocks identical, rms {ra:.4g} (llama.cpp {rb:.4g})")
        if ra > rb * 1.001 + 1e-12:
            errors.append(f"{k}: longctx rms error {ra:.6g} above llama.cpp's {rb:.6g}")
    print(f"     {name:<7} " + "; ".join(parts) + (" -> FAIL" if errors else ""))
    for e in errors[:8]:
        print("       " + e)
    return not errors


def compare_types(name, lc, cpp):
    a, b = tensors(lc), tensors(cpp)
    diff = [f"{n}: longctx {t.tensor_type.name}, llama.cpp {b[n].tensor_type.name}"
            for n, t in a.items() if n in b and b[n].tensor_type != t.tensor_type]
    diff += [f"{n}: only in one file" for n in set(a) ^ set(b)]
    counts = {}
    for t in a.values():
        counts[t.tensor_type.name] = counts.get(t.tensor_type.name, 0) + 1
    print(f"     {name:<7} {len(a)} tensors ({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))})"
          f": {'same types as llama.cpp' if not diff else f'{len(diff)} DIFFER'}")
    for e in diff[:8]:
        print("       " + e)
    return not diff


def quantizer_parity(longctx, assets, work):
    try:
        import llama_cpp
    except ImportError:
        print("  2./3. SKIPPED: llama_cpp (llama-cpp-python) is not installed")
        return True
    print(f"  2. quantizers vs llama.cpp (llama-cpp-python {llama_cpp.__version__}, pure, no "
          "imatrix); 3. mixes: per-tensor types")
    models = [("synthetic", synthetic_f32(work))]
    smol = os.path.join(assets, "real_models/SmolLM2-135M-Instruct.Q4_1.gguf")
    if os.path.exists(smol):
        f32 = os.path.join(work, "smollm2_f32.gguf")
        sh(longctx, "convert", smol, f32, "--dtype", "f32")
        models.append(("SmolLM2", f32))
    else:
        print(f"     (SmolLM2 skipped: {smol} not found)")
    ok = True
    for model, f32 in models:
        print(f"   {model}:")
        for t in TYPES + ["q4_k_m", "q5_k_m"]:
            lc, cpp = os.path.join(work, f"lc_{t}.gguf"), os.path.join(work, f"cpp_{t}.gguf")
            sh(longctx, "convert", f32, lc, "--dtype", t)
            mix = t.endswith("_m")
            llama_cpp_quantize(f32, cpp, FTYPE[t], pure=not mix)
            ok &= compare_types(t, lc, cpp) if mix else compare_quantizers(t, f32, lc, cpp)
            os.remove(lc)
            os.remove(cpp)
        os.remove(f32)
    return ok


def main():
    longctx, assets, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    print(f"quant_parity: longctx vs gguf {importlib.metadata.version('gguf')} and llama.cpp")
    ok = dequant_parity(longctx, work)
    ok &= quantizer_parity(longctx, assets, work)
    print("quant_parity:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
