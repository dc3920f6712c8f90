#!/usr/bin/env python3
"""Independent-implementation parity: longctx logits vs Hugging Face transformers.

For each model (stories260K, a random GQA model from `longctx synth-model`, a random ALiBi
model from `longctx synth-model --arch mpt`, and the embedded default model models/default):
  1. `longctx convert IN DIR --to hf` writes config.json + model.safetensors;
  2. transformers' LlamaForCausalLM / MptForCausalLM .from_pretrained(DIR, torch_dtype=float32)
     (local, offline)
     runs one forward over N token ids (BOS=1 first, then fixed pseudo-random ids);
  3. `longctx logits -m DIR --tokens ... --out F` gives raw float32 [N, vocab];
  4. asserts max|diff| / max|logit| <= REL_TOL and argmax agreement at every position.

usage: hf_parity.py LONGCTX ASSETS WORKDIR
"""
import os
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch
from transformers import LlamaForCausalLM, MptForCausalLM

N_TOKENS = 300
REL_TOL = 1e-4      # max|diff| / max|logit|, both sides f32
SEED = 1234


def sh(*args):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"command failed ({r.returncode}): {' '.join(map(str, args))}\n{r.stdout}{r.stderr}")


def check(longctx, name, src, work, cls=LlamaForCausalLM):
    hf_dir = os.path.join(work, name + "_hf")
    sh(longctx, "convert", src, hf_dir, "--to", "hf")
    model = cls.from_pretrained(hf_dir, torch_dtype=torch.float32, local_files_only=True)
    model.eval()
    cfg = model.config
    ctx = getattr(cfg, "max_position_embeddings", None) or cfg.max_seq_len  # MptConfig: max_seq_len
    n = min(N_TOKENS, ctx)
    rng = np.random.default_rng(SEED)
    ids = [1] + rng.integers(3, cfg.vocab_size, size=n - 1).tolist()

    with torch.no_grad():
        ref = model(torch.tensor([ids]), use_cache=False).logits[0].float().numpy()

    out = os.path.join(work, name + "_logits.f32")
    sh(longctx, "logits", "-m", hf_dir, "--tokens", ",".join(map(str, ids)), "--out", out, "-t", "2")
    got = np.fromfile(out, dtype=np.float32)
    assert got.size == n * cfg.vocab_size, f"{name}: {got.size} floats, expected {n}x{cfg.vocab_size}"
    got = got.reshape(n, cfg.vocab_size)

    max_diff = float(np.abs(got - ref).max())
    max_logit = float(np.abs(ref).max())
    rel = max_diff / max_logit
    agree = int((got.argmax(1) == ref.argmax(1)).sum())
    # A disagreement is only acceptable where HF's top-2 are closer than the measured error.
    top2 = np.sort(ref, axis=1)[:, -2:]
    near_ties = int(((top2[:, 1] - top2[:, 0]) <= 2 * max_diff).sum())
    ok = rel <= REL_TOL and (agree == n or agree + near_ties >= n)
    kv_heads = getattr(cfg, "num_key_value_heads", cfg.num_attention_heads)
    print(f"  {name:<12} heads {cfg.num_attention_heads}/{kv_heads} dim {cfg.hidden_size} "
          f"layers {cfg.num_hidden_layers} vocab {cfg.vocab_size}: {n} tokens, max|diff| {max_diff:.3e}, "
          f"max|logit| {max_logit:.3f}, rel {rel:.2e} (tol {REL_TOL:.0e}), argmax {agree}/{n} "
          f"-> {'PASS' if ok else 'FAIL'}")
    return ok


def main():
    longctx, assets, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    gqa = os.path.join(work, "synth_gqa.bin")
    sh(longctx, "synth-model", "-o", gqa, "--dim", "256", "--hidden", "688", "--layers", "4",
       "--heads", "8", "--kv-heads", "2", "--vocab", "1000", "--ctx", "512", "--seed", "7")
    print(f"hf_parity: longctx vs transformers {__import__('transformers').__version__} "
          f"(torch {torch.__version__}), float32")
    ok = check(longctx, "stories260K", os.path.join(assets, "llama2c/stories260K.bin"), work)
    ok &= check(longctx, "synth_gqa", gqa, work)
    # ALiBi, LayerNorm without bias, fused Wqkv, exact GELU; 12 heads (not a power of two, so the
    # interleaved slope order matters); weights large enough that attention is not uniform.
    mpt = os.path.join(work, "synth_mpt")
    sh(longctx, "synth-model", "--arch", "mpt", "-o", mpt, "--dim", "192", "--layers", "3",
       "--heads", "12", "--vocab", "1000", "--ctx", "512", "--seed", "9", "--weight-std", "0.08")
    ok &= check(longctx, "synth_mpt", mpt, work, MptForCausalLM)
    # The embedded default model (trained by longctx train, byte-level, RoPE rotate-half).
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ok &= check(longctx, "default", os.path.join(root, "models", "default"), work)
    print("hf_parity:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
