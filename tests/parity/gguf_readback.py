#!/usr/bin/env python3
"""GGUF written by `longctx convert`, read back with the independent `gguf` PyPI package.

stories260K.bin -> GGUF (f32 and q8_0, tokenizer tok512.bin embedded). GGUFReader must parse
the file; the metadata must match the llama2.c header; every tensor's name, shape and type
must be as expected; f32 tensors must equal the llama2.c values bit for bit; q8_0 tensors,
dequantized by gguf.quants, must be within half a quantization step (d/2 per block) of them;
in the q8_0 file, matrices whose rows are not a multiple of 32 (ffn_down, 172 columns) are F16,
as llama.cpp's last-resort fallback, and must equal the values rounded to f16.
Both llama2.c and GGUF keep q/k rows in Meta's interleaved (adjacent-pair) RoPE order, so no
permutation is involved.

usage: gguf_readback.py LONGCTX ASSETS WORKDIR
"""
import importlib.metadata
import os
import subprocess
import sys

import numpy as np
import gguf
from gguf import GGUFReader, GGMLQuantizationType as QT


def sh(*args):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"command failed ({r.returncode}): {' '.join(map(str, args))}\n{r.stdout}{r.stderr}")


def read_llama2c(path):
    """Independent llama2.c reader: header of 7 int32, then f32 arrays in run.c's order."""
    raw = np.fromfile(path, dtype=np.int32, count=7)
    dim, hidden, L, nh, nkv, vocab, ctx = map(int, raw)
    shared = vocab > 0
    vocab = abs(vocab)
    hd = dim // nh
    kvd = nkv * hd
    data = np.fromfile(path, dtype=np.float32, offset=28)
    pos = 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        a = data[pos:pos + n].reshape(shape)
        pos += n
        return a

    w = {"token_embd.weight": take(vocab, dim)}
    per_layer = [("attn_norm", (dim,)), ("attn_q", (dim, dim)), ("attn_k", (kvd, dim)),
                 ("attn_v", (kvd, dim)), ("attn_output", (dim, dim)), ("ffn_norm", (dim,)),
                 ("ffn_gate", (hidden, dim)), ("ffn_down", (dim, hidden)), ("ffn_up", (hidden, dim))]
    for name, shape in per_layer:
        a = take(L, *shape)
        for i in range(L):
            w[f"blk.{i}.{name}.weight"] = a[i]
    w["output_norm.weight"] = take(dim)
    take(ctx, hd // 2)  # freq_cis_real (unused)
    take(ctx, hd // 2)  # freq_cis_imag
    if not shared:
        w["output.weight"] = take(vocab, dim)
    assert pos == data.size, f"{path}: {data.size - pos} floats left over"
    cfg = dict(dim=dim, hidden=hidden, layers=L, heads=nh, kv_heads=nkv, vocab=vocab, ctx=ctx, shared=shared)
    return cfg, w


def field(reader, key):
    f = reader.fields.get(key)
    if f is None:
        raise AssertionError(f"missing key {key}")
    if f.types and f.types[0] == gguf.GGUFValueType.ARRAY:
        return f
    v = f.parts[f.data[0]]
    if f.types[0] == gguf.GGUFValueType.STRING:
        return bytes(v).decode()
    return v.tolist()[0]


def check(longctx, assets, work, dtype, cfg, ref):
    out = os.path.join(work, f"stories260K_{dtype}.gguf")
    sh(longctx, "convert", os.path.join(assets, "llama2c/stories260K.bin"), out,
       "--dtype", dtype, "-z", os.path.join(assets, "llama2c/tok512.bin"))
    r = GGUFReader(out)
    errors = []

    def expect(what, got, want):
        if got != want:
            errors.append(f"{what}: got {got!r}, want {want!r}")
        return got == want

    arch = field(r, "general.architecture")
    n_meta_errors = len(errors)
    expect("general.architecture", arch, "llama")
    expect("context_length", field(r, f"{arch}.context_length"), cfg["ctx"])
    expect("embedding_length", field(r, f"{arch}.embedding_length"), cfg["dim"])
    expect("feed_forward_length", field(r, f"{arch}.feed_forward_length"), cfg["hidden"])
    expect("block_count", field(r, f"{arch}.block_count"), cfg["layers"])
    expect("attention.head_count", field(r, f"{arch}.attention.head_count"), cfg["heads"])
    expect("attention.head_count_kv", field(r, f"{arch}.attention.head_count_kv"), cfg["kv_heads"])
    expect("rope.freq_base", field(r, f"{arch}.rope.freq_base"), 10000.0)
    expect("tokenizer.ggml.model", field(r, "tokenizer.ggml.model"), "llama")
    expect("tokenizer.ggml.tokens count", len(field(r, "tokenizer.ggml.tokens").data), cfg["vocab"])
    expect("tokenizer.ggml.scores count", len(field(r, "tokenizer.ggml.scores").data), cfg["vocab"])

    meta_ok = len(errors) == n_meta_errors
    names = {t.name for t in r.tensors}
    expect("tensor names", sorted(names), sorted(ref))
    n_exact = n_q8 = n_f16 = 0
    worst_q8 = 0.0
    for t in r.tensors:
        if t.name not in ref:
            continue
        want = ref[t.name]
        # GGUFReader: t.shape is ggml order (ne0 = innermost first); reverse for numpy order.
        shape = tuple(int(x) for x in reversed(t.shape.tolist()))
        expect(f"{t.name} shape", shape, want.shape)
        if shape != want.shape:
            continue
        if t.tensor_type == QT.F32:
            got = np.asarray(t.data, dtype=np.float32).reshape(shape)
            if not np.array_equal(got.view(np.uint32), want.view(np.uint32)):
                errors.append(f"{t.name}: f32 data differ (max |diff| {np.abs(got - want).max():.3e})")
            n_exact += 1
        elif t.tensor_type == QT.F16:
            got = np.asarray(t.data, dtype=np.float16).reshape(shape)
            if dtype != "q8_0" or want.ndim != 2 or want.shape[1] % 32 == 0:
                errors.append(f"{t.name}: unexpected F16")
            elif not np.array_equal(got.view(np.uint16), want.astype(np.float16).view(np.uint16)):
                errors.append(f"{t.name}: f16 data differ from the f32 values rounded to f16")
            n_f16 += 1
        elif t.tensor_type == QT.Q8_0:
            if dtype != "q8_0" or want.ndim != 2:
                errors.append(f"{t.name}: unexpected Q8_0")
                continue
            got = gguf.quants.dequantize(np.asarray(t.data), QT.Q8_0).reshape(shape)
            blocks = want.reshape(shape[0], -1, 32)
            step = np.abs(blocks).max(axis=2, keepdims=True) / 127.0      # d of each block
            # d is stored as f16: allow its rounding (2^-11 relative) times 127 on top of d/2.
            bound = step * (0.5 + 127 * 2.0 ** -11) + 1e-30
            err = np.abs(got.reshape(blocks.shape) - blocks)
            worst_q8 = max(worst_q8, float((err / bound).max()))
            if (err > bound).any():
                errors.append(f"{t.name}: q8_0 error above d/2 (worst {float((err / bound).max()):.3f} of bound)")
            n_q8 += 1
        else:
            errors.append(f"{t.name}: unexpected type {t.tensor_type.name}")
    # q8_0 must quantize exactly the 2-D matrices whose rows are a multiple of 32 long; the other
    # matrices are F16, vectors F32.
    if dtype == "q8_0":
        for t in r.tensors:
            w = ref[t.name]
            want = QT.F32 if w.ndim == 1 else QT.Q8_0 if w.shape[1] % 32 == 0 else QT.F16
            if t.tensor_type != want:
                errors.append(f"{t.name}: type {t.tensor_type.name} unexpected for shape {w.shape}")

    status = "PASS" if not errors else "FAIL"
    extra = (f", {n_q8} q8_0 within d/2 (worst {worst_q8:.3f} of bound), {n_f16} f16 exact"
             if dtype == "q8_0" else "")
    print(f"  {dtype:<5} {os.path.getsize(out)} bytes, {len(r.fields)} keys, {len(r.tensors)} tensors: "
          f"metadata {'ok' if meta_ok else 'WRONG'}, "
          f"{n_exact} f32 bit-exact{extra} -> {status}")
    for e in errors:
        print("    " + e)
    return not errors


def main():
    longctx, assets, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    cfg, ref = read_llama2c(os.path.join(assets, "llama2c/stories260K.bin"))
    print(f"gguf_readback: longctx convert -> gguf {importlib.metadata.version('gguf')} GGUFReader; "
          f"stories260K dim {cfg['dim']} hidden {cfg['hidden']} layers {cfg['layers']} heads "
          f"{cfg['heads']}/{cfg['kv_heads']} vocab {cfg['vocab']} ctx {cfg['ctx']}, {len(ref)} tensors")
    ok = True
    for dtype in ("f32", "q8_0"):
        ok &= check(longctx, assets, work, dtype, cfg, ref)
    print("gguf_readback:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
