#!/usr/bin/env python3
"""RoPE position scaling (Llama 3, linear, YaRN): longctx vs Hugging Face transformers.

For each scaling, a random-weight LlamaForCausalLM is built by transformers from a config in
this file (no download) and saved as an HF directory; longctx reads that directory, and a GGUF
converted from it by `longctx convert --to gguf` (Llama 3: a rope_freqs tensor of per-pair
divisors, as llama.cpp's converter writes; linear and YaRN: llama.cpp's rope.scaling.* keys).
Both must give transformers' logits within REL_TOL (max|diff| / max|logit|) over N tokens, with
argmax agreement except at near ties. The scaled contexts are small (original context 64) so
that every regime of each scheme (kept, interpolated, ramped pairs) is exercised by a
300-token sequence, and a control run with the scaling removed from the config must differ.

usage: rope_scaling_parity.py LONGCTX WORKDIR
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
from paritylib import compare, longctx_logits, sh
import torch
from transformers import LlamaConfig, LlamaForCausalLM

N = 300
REL_TOL = 1e-4
BASE = dict(vocab_size=512, hidden_size=128, intermediate_size=344, num_hidden_layers=3,
            num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=512,
            rope_theta=10000.0, rms_norm_eps=1e-5, initializer_range=0.08,
            tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
CASES = {
    "llama3": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
    "linear": {"rope_type": "linear", "factor": 4.0},
    # transformers 4.44 takes YaRN's original context from max_position_embeddings.
    "yarn": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 512},
    "yarn_attn": {"rope_type": "yarn", "factor": 8.0, "beta_fast": 16.0, "beta_slow": 2.0,
                  "attention_factor": 1.5, "original_max_position_embeddings": 512},
}


def main():
    exe, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    import transformers
    print(f"rope_scaling_parity: longctx vs transformers {transformers.__version__} "
          f"(torch {torch.__version__}), float32")
    rng = np.random.default_rng(5)
    ids = [1] + rng.integers(3, BASE["vocab_size"], size=N - 1).tolist()
    ok = True
    for i, (name, rs) in enumerate(CASES.items()):
        torch.manual_seed(100 + i)
        model = LlamaForCausalLM(LlamaConfig(**BASE, rope_scaling=rs)).eval()
        hf_dir = os.path.join(work, f"rope_{name}_hf")
        model.save_pretrained(hf_dir, safe_serialization=True)
        with torch.no_grad():
            ref = model(torch.tensor([ids]), use_cache=False).logits[0].float().numpy()
        got = longctx_logits(exe, hf_dir, ids, os.path.join(work, f"rope_{name}_hf.f32"))
        o1, d1 = compare(f"{name} (HF dir)", got, ref, REL_TOL, 18)
        gguf = os.path.join(work, f"rope_{name}.gguf")
        sh(exe, "convert", hf_dir, gguf, "--to", "gguf")
        got_g = longctx_logits(exe, gguf, ids, os.path.join(work, f"rope_{name}_gguf.f32"))
        o2, _ = compare(f"{name} (GGUF)", got_g, ref, REL_TOL, 18)
        # Control: the same weights without the scaling must NOT match (the test can fail).
        cfg = json.load(open(os.path.join(hf_dir, "config.json")))
        cfg.pop("rope_scaling")
        plain_dir = os.path.join(work, f"rope_{name}_plain")
        os.makedirs(plain_dir, exist_ok=True)
        json.dump(cfg, open(os.path.join(plain_dir, "config.json"), "w"))
        st = os.path.join(plain_dir, "model.safetensors")
        if not os.path.exists(st):
            os.symlink(os.path.join(hf_dir, "model.safetensors"), st)
        plain = longctx_logits(exe, plain_dir, ids, os.path.join(work, f"rope_{name}_plain.f32"))
        ctrl = float(np.abs(plain - ref).max())
        o3 = ctrl > 100 * max(d1, 1e-7)
        print(f"  {name:<18} control without rope_scaling: max|diff| {ctrl:.3e} "
              f"-> {'PASS (differs)' if o3 else 'FAIL (scaling has no effect)'}")
        ok &= o1 and o2 and o3
    print("rope_scaling_parity:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
