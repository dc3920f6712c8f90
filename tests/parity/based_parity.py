#!/usr/bin/env python3
"""Independent-implementation parity for BASED: longctx logits vs a PyTorch model written here
from the spec (../shared/specs/based.md) in the layout of the official modules (flash-attn GPT:
transformer.embeddings / transformer.layers.{i}.{norm1,mixer,norm2,mlp} / transformer.ln_f):

  * LinearAttention: proj_q/k/v, the Taylor feature map in its *full* 1 + f + f^2 form
    (phi(x) = [1, x / f^(1/4), vec(x x^T) / (sqrt(2) sqrt(f))]), causal quadratic
    y = (phi(q) phi(k)^T masked) v / (row sums + 1e-12) -- the features are materialised;
  * SlidingAttention: fused Wqkv, rotate-half RoPE (base rotary_emb_base), softmax with an
    explicit mask keeping keys [i - window_size // 2, i];
  * BaseConv: in_proj (bias), torch conv1d depthwise kernel 3 with padding 2 truncated to the
    first T outputs (causal), silu(conv(u1)) * u2, out_proj (bias);
  * SwiGLU MLP fc1 -> [value | gate], fc2(value * silu(gate)); RMSNorm; tied embeddings.

Weights are read with safetensors straight from a tiny `longctx synth-model --arch based`
directory; the PyTorch model runs in float64. Checks max|diff| / max|logit| <= REL_TOL against
`longctx logits -m DIR --tokens ...` (f32) over the real vocabulary, and argmax agreement.

usage: based_parity.py LONGCTX WORKDIR
"""
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

N_TOKENS = 97       # odd, > the window (9 keys), > several Taylor chunks
REL_TOL = 1e-4      # longctx is f32, this model f64
SEED = 4321


def sh(*args):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"command failed ({r.returncode}): {' '.join(map(str, args))}\n{r.stdout}{r.stderr}")


class RMSNorm(torch.nn.Module):
    def __init__(self, w, eps):
        super().__init__()
        self.w, self.eps = w, eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.w


class TaylorExp(torch.nn.Module):
    """The full 2nd-order Taylor feature map of the official TaylorExp."""

    def __init__(self, f):
        super().__init__()
        self.r2, self.rd, self.rrd = math.sqrt(2), math.sqrt(f), math.sqrt(math.sqrt(f))

    def forward(self, x):  # [..., f] -> [..., 1 + f + f^2]
        x2 = (x.unsqueeze(-1) * x.unsqueeze(-2)).flatten(start_dim=-2) / self.r2
        return torch.cat([torch.ones_like(x[..., :1]), x / self.rrd, x2 / self.rd], dim=-1)


class LinearAttention(torch.nn.Module):
    def __init__(self, W, p, d, heads, f):
        super().__init__()
        self.W, self.p, self.h, self.f, self.dv = W, p, heads, f, d // heads
        self.fmap = TaylorExp(f)

    def forward(self, x):
        b, t, _ = x.shape
        q = (x @ self.W[self.p + "proj_q.weight"].T).view(b, t, self.h, self.f).transpose(1, 2)
        k = (x @ self.W[self.p + "proj_k.weight"].T).view(b, t, self.h, self.f).transpose(1, 2)
        v = (x @ self.W[self.p + "proj_v.weight"].T).view(b, t, self.h, self.dv).transpose(1, 2)
        fq, fk = self.fmap(q), self.fmap(k)                       # [b, h, t, 1 + f + f^2]
        assert fq.shape[-1] == 1 + self.f + self.f * self.f
        a = (fq @ fk.transpose(-1, -2)).tril()                    # causal, current token included
        y = (a @ v) / (a.sum(-1, keepdim=True) + 1e-12)
        y = y.transpose(1, 2).reshape(b, t, self.h * self.dv)
        return y @ self.W[self.p + "out_proj.weight"].T


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


class SlidingAttention(torch.nn.Module):
    def __init__(self, W, p, d, heads, window, base):
        super().__init__()
        self.W, self.p, self.h, self.hd, self.window, self.base = W, p, heads, d // heads, window, base

    def forward(self, x):
        b, t, d = x.shape
        qkv = (x @ self.W[self.p + "Wqkv.weight"].T).view(b, t, 3, self.h, self.hd)
        q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))  # [b, h, t, hd]
        inv = 1.0 / (self.base ** (torch.arange(0, self.hd, 2, dtype=torch.float64) / self.hd))
        ang = torch.arange(t, dtype=torch.float64)[:, None] * inv[None, :]
        cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        i = torch.arange(t)[:, None]
        j = torch.arange(t)[None, :]
        keep = (j <= i) & (j >= i - self.window // 2)           # FlashAttention-2 (w // 2, 0)
        s = s.masked_fill(~keep, float("-inf"))
        y = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
        return y @ self.W[self.p + "out_proj.weight"].T


class BaseConv(torch.nn.Module):
    def __init__(self, W, p, d):
        super().__init__()
        self.W, self.p, self.d = W, p, d

    def forward(self, x):
        b, t, d = x.shape
        u = x @ self.W[self.p + "in_proj.weight"].T + self.W[self.p + "in_proj.bias"]
        u1, u2 = u.split([2 * d, 2 * d], dim=-1)
        w = self.W[self.p + "conv.conv.weight"]                   # [2d, 1, 3]
        c = F.conv1d(u1.transpose(1, 2), w, padding=2, groups=2 * d)[..., :t].transpose(1, 2)
        y = F.silu(c) * u2
        return y @ self.W[self.p + "out_proj.weight"].T + self.W[self.p + "out_proj.bias"]


class Based(torch.nn.Module):
    def __init__(self, W, cfg):
        super().__init__()
        d, eps = cfg["n_embd"], cfg.get("layer_norm_epsilon", 1e-5)
        self.W, self.cfg = W, cfg
        self.hidden = (cfg["n_inner"] + 255) // 256 * 256
        self.layers = []
        for i in range(cfg["n_layer"]):
            p = f"transformer.layers.{i}."
            if i in cfg["alt_mixer_2_layers"]:
                mixer = SlidingAttention(W, p + "mixer.", d, cfg["n_head"],
                                         cfg["alt_mixer_2"]["window_size"],
                                         cfg.get("rotary_emb_base", 10000.0))
            elif i in cfg["alt_mixer_layers"]:
                mixer = LinearAttention(W, p + "mixer.", d, cfg["alt_mixer"]["num_heads"],
                                        cfg["alt_mixer"]["feature_dim"])
            else:
                mixer = BaseConv(W, p + "mixer.", d)
            self.layers.append((RMSNorm(W[p + "norm1.weight"], eps), mixer,
                                RMSNorm(W[p + "norm2.weight"], eps), p))
        self.ln_f = RMSNorm(W["transformer.ln_f.weight"], eps)

    def forward(self, ids):
        E = self.W["transformer.embeddings.word_embeddings.weight"]
        x = E[ids]
        for norm1, mixer, norm2, p in self.layers:
            x = x + mixer(norm1(x))
            y, g = (norm2(x) @ self.W[p + "mlp.fc1.weight"].T).split(self.hidden, dim=-1)
            x = x + (y * F.silu(g)) @ self.W[p + "mlp.fc2.weight"].T
        return self.ln_f(x) @ E.T                                 # tied: [b, t, padded vocab]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    longctx, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    d = os.path.join(work, "based_tiny")
    sh(longctx, "synth-model", "--arch", "based", "--preset", "tiny", "--layers", "7",
       "--weight-std", "0.15", "--seed", "5", "-o", d)
    cfg = json.load(open(os.path.join(d, "config.json")))
    W = {k: v.double() for k, v in load_file(os.path.join(d, "model.safetensors")).items()}
    vocab = cfg["vocab_size"]
    padded = W["transformer.embeddings.word_embeddings.weight"].shape[0]
    rng = np.random.default_rng(SEED)
    ids = rng.integers(0, vocab, size=N_TOKENS).tolist()
    with torch.no_grad():
        ref = Based(W, cfg)(torch.tensor([ids]))[0].numpy()
    assert ref.shape == (N_TOKENS, padded)
    ref = ref[:, :vocab]                                           # real tokens only
    ok = True
    for threads in ("1", "2"):
        out = os.path.join(work, f"based_logits_t{threads}.f32")
        sh(longctx, "logits", "-m", d, "--tokens", ",".join(map(str, ids)), "--out", out,
           "-t", threads)
        got = np.fromfile(out, dtype=np.float32)
        assert got.size == N_TOKENS * vocab, f"{got.size} floats, expected {N_TOKENS}x{vocab}"
        got = got.reshape(N_TOKENS, vocab)
        rel = float(np.abs(got - ref).max()) / float(np.abs(ref).max())
        agree = int((got.argmax(1) == ref.argmax(1)).sum())
        good = rel <= REL_TOL and agree == N_TOKENS
        ok &= good
        print(f"based_tiny (7 layers: conv {[i for i in range(7) if i not in cfg['alt_mixer_layers'] + cfg['alt_mixer_2_layers']]}, "
              f"linear {cfg['alt_mixer_layers']}, window {cfg['alt_mixer_2_layers']}; "
              f"vocab {vocab} padded {padded}) -t {threads}: {N_TOKENS} tokens, "
              f"max rel diff {rel:.2e} (tol {REL_TOL:.0e}), argmax {agree}/{N_TOKENS} "
              f"{'PASS' if good else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
