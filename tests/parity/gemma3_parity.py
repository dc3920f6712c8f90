#!/usr/bin/env python3
"""Gemma 3 (text): longctx vs Hugging Face transformers' Gemma3ForCausalLM.

Random-weight Gemma3ForCausalLM models are built by transformers from configs in this file (no
download) and saved as HF directories; longctx reads each directory (`longctx logits`), the GGUF
converted from it (`longctx convert --to gguf`: llama.cpp's gemma3 keys, norms stored as 1 + w,
the query scale folded into attn_q_norm where it is not llama.cpp's derived one) and the HF
directory converted back from that GGUF (`--to hf`), which transformers itself loads again. All
must give transformers' logits within REL_TOL (max|diff| / max|logit|) over N tokens -- six
sliding windows -- with argmax agreement except at near ties. Every norm weight is random (HF
initialises them to 0, which would hide a missing `1 +`), query_pre_attn_scalar differs from
head_dim, and the local layers' RoPE base differs from the global one.

  * "layer_types": the current config format (rope_parameters per layer type), an irregular
    local/global pattern (written to GGUF as a per-layer flag array);
  * "pattern": the older format (sliding_window_pattern 2, rope_theta / rope_local_base_freq,
    rope_scaling linear x8 on the global layers only, as Gemma 3 4B+ ship it) with
    final_logit_softcapping.

Controls, which must NOT match: the same weights with the sliding window widened past N (the
local window ignored), with query_pre_attn_scalar = head_dim (the query scale ignored), with the
local layers' RoPE base set to the global one, and (pattern case) without the global layers'
linear scaling.

Needs transformers >= 4.50 (Gemma 3), i.e. torch 2: tests/parity/run.sh runs it in a venv
outside the repository. usage: gemma3_parity.py LONGCTX WORKDIR
"""
import json
import os
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
from paritylib import compare, longctx_logits, sh
import torch
import transformers
from transformers import Gemma3ForCausalLM, Gemma3TextConfig

N = 100
REL_TOL = 1e-4
WINDOW = 16
BASE = dict(vocab_size=512, hidden_size=96, intermediate_size=160, num_hidden_layers=4,
            num_attention_heads=2, num_key_value_heads=1, head_dim=32, max_position_embeddings=256,
            sliding_window=WINDOW, query_pre_attn_scalar=24, rms_norm_eps=1e-6,
            initializer_range=0.08, bos_token_id=2, eos_token_id=1, pad_token_id=0)
CASES = {
    "layer_types": dict(layer_types=["sliding_attention", "sliding_attention", "full_attention",
                                     "sliding_attention"],
                        rope_parameters={
                            "full_attention": {"rope_type": "default", "rope_theta": 1e6},
                            "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}}),
    "pattern": dict(sliding_window_pattern=2, final_logit_softcapping=5.0,
                    rope_theta=1e6, rope_local_base_freq=1e4,
                    rope_scaling={"rope_type": "linear", "factor": 8.0}),
}


def hf_logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids]), use_cache=False).logits[0].float().numpy()


def old_format(cfg_path, extra):
    """Rewrites a saved config.json in the pre-4.57 layout: no layer_types / rope_parameters."""
    cfg = json.load(open(cfg_path))
    for k in ("layer_types", "rope_parameters", "_sliding_window_pattern"):
        cfg.pop(k, None)
    cfg.update(extra)
    json.dump(cfg, open(cfg_path, "w"), indent=1)


def variant(src_dir, dst_dir, change):
    """A copy of an HF directory whose config.json is edited by `change` (same weights)."""
    os.makedirs(dst_dir, exist_ok=True)
    cfg = json.load(open(os.path.join(src_dir, "config.json")))
    change(cfg)
    json.dump(cfg, open(os.path.join(dst_dir, "config.json"), "w"), indent=1)
    st = os.path.join(dst_dir, "model.safetensors")
    if not os.path.exists(st):
        os.symlink(os.path.join(src_dir, "model.safetensors"), st)
    return dst_dir


def main():
    exe, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    print(f"gemma3_parity: longctx vs transformers {transformers.__version__} "
          f"(torch {torch.__version__}), float32")
    rng = np.random.default_rng(7)
    ids = [2] + rng.integers(3, BASE["vocab_size"], size=N - 1).tolist()
    ok = True
    for i, (name, extra) in enumerate(CASES.items()):
        torch.manual_seed(200 + i)
        model = Gemma3ForCausalLM(Gemma3TextConfig(**BASE, **extra)).eval()
        with torch.no_grad():  # HF initialises norms to 0: make (1 + w) matter
            for pname, p in model.named_parameters():
                if pname.endswith("norm.weight"):
                    p.copy_(torch.randn_like(p) * 0.5)
        hf_dir = os.path.join(work, f"gemma3_{name}_hf")
        model.save_pretrained(hf_dir, safe_serialization=True)
        if name == "pattern":
            old_format(os.path.join(hf_dir, "config.json"),
                       {k: v for k, v in extra.items() if k != "final_logit_softcapping"})
            model = Gemma3ForCausalLM.from_pretrained(hf_dir).eval()  # as a reader sees it
        kinds = "".join("L" if t == "sliding_attention" else "G" for t in model.config.layer_types)
        print(f"  case {name}: layers {kinds} (L local, window {WINDOW}), "
              f"query_pre_attn_scalar {BASE['query_pre_attn_scalar']}, head_dim {BASE['head_dim']}")
        ref = hf_logits(model, ids)
        got = longctx_logits(exe, hf_dir, ids, os.path.join(work, f"g3_{name}_hf.f32"))
        o1, d1 = compare(f"{name} (HF dir)", got, ref, REL_TOL, 36)
        gguf = os.path.join(work, f"gemma3_{name}.gguf")
        sh(exe, "convert", hf_dir, gguf, "--to", "gguf")
        got_g = longctx_logits(exe, gguf, ids, os.path.join(work, f"g3_{name}_gguf.f32"))
        o2, _ = compare(f"{name} (GGUF)", got_g, ref, REL_TOL, 36)
        back = os.path.join(work, f"gemma3_{name}_back")
        shutil.rmtree(back, ignore_errors=True)
        sh(exe, "convert", gguf, back, "--to", "hf")
        back_ref = hf_logits(Gemma3ForCausalLM.from_pretrained(back).eval(), ids)
        o3, _ = compare(f"{name} (GGUF->HF, transformers)", back_ref, ref, REL_TOL, 36)
        # Controls: the same weights with one Gemma 3 feature ignored must not match.
        def local_base(cfg):
            if "rope_parameters" in cfg:
                cfg["rope_parameters"]["sliding_attention"]["rope_theta"] = 1e6
            else:
                cfg["rope_local_base_freq"] = 1e6
        controls = [("window ignored", lambda cfg: cfg.update(sliding_window=4 * N)),
                    ("query scale ignored",
                     lambda cfg: cfg.update(query_pre_attn_scalar=BASE["head_dim"])),
                    ("local RoPE base = global", local_base)]
        if name == "pattern":
            controls.append(("global scaling dropped", lambda cfg: cfg.pop("rope_scaling")))
        o4 = True
        for k, (ctrl, change) in enumerate(controls):
            d = variant(hf_dir, os.path.join(work, f"gemma3_{name}_ctrl{k}"), change)
            c = longctx_logits(exe, d, ids, os.path.join(work, f"g3_{name}_ctrl.f32"))
            diff = float(np.abs(c - ref).max())
            differs = diff > 100 * max(d1, 1e-7)
            print(f"  {name} control, {ctrl + ':':<25} max|diff| {diff:.3e} -> "
                  f"{'PASS (differs)' if differs else 'FAIL (no effect)'}")
            o4 &= differs
        ok &= o1 and o2 and o3 and o4
    print("gemma3_parity:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
