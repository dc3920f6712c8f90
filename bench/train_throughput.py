#!/usr/bin/env python3
"""Training throughput of `longctx train --arch llama` against the same model in PyTorch.

Both implementations train the same byte-level Llama-style model (src/train/model.cc) on the
same text file, fp32, same batch x seq-len, same optimiser, schedule and clipping, with the same
thread count. The two alternate inside each round (so machine noise hits both alike); every round
is one process per implementation that runs --warmup + --timed steps; the warm-up steps are
discarded and the round's throughput is timed tokens / timed seconds (each step timed from batch
sampling to the end of the optimiser step, as `longctx train` times its steps). Medians and
spread (min-max over rounds) go to a markdown table and JSON.

Sanity check that it is the same model: equal parameter counts (asserted), the first-step loss of
both (~ ln 257 = 5.549 at this init), and the loss after --loss-steps steps of a separate run of
the smallest configuration (plus the last-step loss of every timed round).

The PyTorch side is this script re-run as a worker (`--torch-worker`) under /usr/bin/python3
(Debian's python3-torch 1.13). Its matrix products go through libblas.so.3, which on the dev VM is
netlib's reference BLAS (~0.3 GFLOP/s); the worker is pointed at Debian's OpenBLAS instead with
LD_LIBRARY_PATH=--blas-dir (install libopenblas0-openmp, or unpack its .deb without installing:
`apt-get download libopenblas0-openmp && dpkg-deb -x libopenblas0-openmp_*.deb DIR`; the OpenMP
build shares torch's OpenMP threads, where the pthread build's would compete with them), and
OPENBLAS_CORETYPE=SKYLAKEX is set before torch loads (OpenBLAS otherwise picks a ~3x slower
kernel on this VM). The worker records which libblas it loaded.

Example (wrap in `flock /work/cpu.lock` on the shared dev VM):
  python3 bench/train_throughput.py --bin build/longctx \
      --data /work/shared/assets/corpora/tinyshakespeare.txt --out docs/perf/train_throughput
"""
import argparse
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time

# name -> (dim, layers, heads, hidden)
CONFIGS = {
    "1M": (128, 4, 4, 448),
    "10M": (320, 8, 8, 864),
}
DEFAULT_BLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-openmp"  # libopenblas0-openmp
VOCAB, BOS = 257, 256
NORM_EPS, ROPE_THETA = 1e-5, 10000.0
INIT_STD = 0.02
BETAS, ADAM_EPS, WEIGHT_DECAY, CLIP, LR, MIN_LR_RATIO = (0.9, 0.95), 1e-8, 0.1, 1.0, 1e-3, 0.1


def lr_at(step, total, warmup):
    """src/train/optim.cc lr_at: linear warm-up, then cosine from LR to LR * MIN_LR_RATIO."""
    if warmup > 0 and step < warmup:
        return LR * (step + 1) / warmup
    span = total - warmup
    if span <= 1:
        return LR
    p = min(1.0, max(0.0, (step - warmup) / (span - 1)))
    lo = LR * MIN_LR_RATIO
    return lo + 0.5 * (LR - lo) * (1.0 + math.cos(math.pi * p))


# ---- PyTorch worker ----------------------------------------------------------------------------

def torch_model(torch, dim, layers, heads, hidden, seq):
    nn = torch.nn
    F = torch.nn.functional
    hd = dim // heads

    class RMSNorm(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(dim))

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + NORM_EPS) * self.weight

    # RoPE rotate-half: (x[i], x[i + hd/2]) rotated by pos * theta^(-2i/hd), computed in double.
    pos = torch.arange(seq, dtype=torch.float64)[:, None]
    inv = ROPE_THETA ** (-2.0 * torch.arange(hd // 2, dtype=torch.float64) / hd)
    ang = pos * inv[None, :]
    cos = torch.cat([ang.cos(), ang.cos()], -1).float()  # [seq, hd]
    sin = torch.cat([ang.sin(), ang.sin()], -1).float()

    def rope(x):  # x: [B, H, T, hd]
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    mask = torch.full((seq, seq), float("-inf")).triu(1)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn_norm = RMSNorm()
            self.attn_qkv = nn.Linear(dim, 3 * dim, bias=False)  # rows [q | k | v]
            self.attn_output = nn.Linear(dim, dim, bias=False)
            self.ffn_norm = RMSNorm()
            self.ffn_fc1 = nn.Linear(dim, 2 * hidden, bias=False)  # rows [value | gate]
            self.ffn_down = nn.Linear(hidden, dim, bias=False)

        def forward(self, x):
            B, T, _ = x.shape
            qkv = self.attn_qkv(self.attn_norm(x)).view(B, T, 3, heads, hd).permute(2, 0, 3, 1, 4)
            q, k, v = rope(qkv[0]), rope(qkv[1]), qkv[2]
            s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd)) + mask
            o = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, dim)
            x = x + self.attn_output(o)
            val, gate = self.ffn_fc1(self.ffn_norm(x)).chunk(2, -1)
            return x + self.ffn_down(val * F.silu(gate))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.token_embd = nn.Embedding(VOCAB, dim)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.output_norm = RMSNorm()

        def forward(self, tokens, labels):
            x = self.token_embd(tokens)
            for b in self.blocks:
                x = b(x)
            logits = self.output_norm(x) @ self.token_embd.weight.t()  # tied head
            return F.cross_entropy(logits.view(-1, VOCAB), labels.view(-1))

    m = Model()
    out_std = INIT_STD / math.sqrt(2.0 * layers)  # model.cc: attn_output and ffn_down
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("norm.weight"):
                p.fill_(1.0)
            else:
                std = out_std if ("attn_output" in name or "ffn_down" in name) else INIT_STD
                p.normal_(0.0, std)
    return m


def torch_worker(a):
    import random
    import torch
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dim, layers, heads, hidden = CONFIGS[a.config]
    model = torch_model(torch, dim, layers, heads, hidden, a.seq_len)
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if not n.endswith("norm.weight")]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("norm.weight")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=ADAM_EPS)
    with open(a.data, "rb") as f:
        data = torch.tensor(list(f.read()), dtype=torch.long)
    rng = random.Random(a.seed)
    B, T = a.batch, a.seq_len
    warmup = a.steps // 10  # `longctx train` default --warmup steps/10
    with open("/proc/self/maps") as f:
        blas = sorted({l.split()[-1] for l in f if "blas" in l.split()[-1]})
    print(json.dumps({"n_params": n_params, "threads": torch.get_num_threads(),
                      "torch": torch.__version__, "blas": blas}), flush=True)
    for step in range(a.steps):
        t0 = time.perf_counter()
        # trainer.cc ByteBatches: tokens = [BOS, d[o], .., d[o+T-2]], labels = d[o .. o+T-1].
        offs = [rng.randrange(len(data) - T + 1) for _ in range(B)]
        labels = torch.stack([data[o:o + T] for o in offs])
        tokens = torch.cat([torch.full((B, 1), BOS, dtype=torch.long), labels[:, :-1]], 1)
        lr = lr_at(step, a.steps, warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        loss = model(tokens, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        dt = time.perf_counter() - t0
        print(json.dumps({"step": step + 1, "loss": loss.item(), "lr": lr,
                          "gnorm": float(gnorm), "seconds": dt, "tok_s": B * T / dt}), flush=True)


# ---- driver -------------------------------------------------------------------------------------

STEP_RE = re.compile(r"^step (\d+)/\d+\s+loss ([0-9.naninf]+)\s+lr (\S+)\s+gnorm (\S+)\s+(\d+) tok/s")
PARAMS_RE = re.compile(r"train: llama model, (\d+) parameters")


def longctx_cmd(a, config, steps, precision="highest"):
    dim, layers, heads, hidden = CONFIGS[config]
    cmd = [a.bin, "train", "--arch", "llama", "--data", a.data, "--dim", str(dim),
           "--layers", str(layers), "--heads", str(heads), "--hidden", str(hidden),
           "--seq-len", str(a.seq_len), "--batch", str(a.batch), "--steps", str(steps),
           "--seed", str(a.seed), "-t", str(a.threads)]
    return cmd + (["--matmul-precision", precision] if precision != "highest" else [])


def torch_cmd(a, config, steps):
    return [a.python, os.path.abspath(__file__), "--torch-worker", "--config", config,
            "--data", a.data, "--seq-len", str(a.seq_len), "--batch", str(a.batch),
            "--steps", str(steps), "--seed", str(a.seed), "--threads", str(a.threads)]


def run(a, impl, config, steps):
    if impl == "pytorch":
        cmd = torch_cmd(a, config, steps)
    else:
        cmd = longctx_cmd(a, config, steps, "high" if impl == "longctx-high" else "highest")
    env = dict(os.environ, OPENBLAS_CORETYPE="SKYLAKEX")
    if impl == "pytorch" and a.blas_dir:
        env["LD_LIBRARY_PATH"] = a.blas_dir
    load = os.getloadavg()[0]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit("failed: %s\n%s%s" % (" ".join(cmd), proc.stdout, proc.stderr))
    steps_out, blas = [], None
    if impl != "pytorch":
        n_params = int(PARAMS_RE.search(proc.stderr).group(1))
        for line in proc.stderr.splitlines():
            m = STEP_RE.match(line)
            if m:
                # the printed tok/s is rounded; seconds from it are exact enough (< 1e-4 rel.)
                tok_s = float(m.group(5))
                steps_out.append({"step": int(m.group(1)), "loss": float(m.group(2)),
                                  "lr": float(m.group(3)), "gnorm": float(m.group(4)),
                                  "tok_s": tok_s, "seconds": a.batch * a.seq_len / tok_s})
    else:
        lines = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
        n_params = lines[0]["n_params"]
        blas = lines[0]["blas"]
        steps_out = lines[1:]
    if len(steps_out) != steps:
        sys.exit("expected %d step lines from %s" % (steps, " ".join(cmd)))
    r = {"impl": impl, "config": config, "cmd": " ".join(cmd), "load1_before": load,
         "wall_s": time.time() - t0, "n_params": n_params, "steps": steps_out}
    if blas is not None:
        r["blas"] = blas
        r["env"] = {k: env[k] for k in ("OPENBLAS_CORETYPE", "LD_LIBRARY_PATH") if k in env}
    print("  %-12s %-4s %2d steps  first loss %.4f  last loss %.4f  (%.0f s, load %.2f)" % (
        impl, config, steps, steps_out[0]["loss"], steps_out[-1]["loss"], r["wall_s"], load),
        flush=True)
    return r


def spread(vals):
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def git_commit():
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        return subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bin", default="build/longctx")
    ap.add_argument("--data", default="/work/shared/assets/corpora/tinyshakespeare.txt")
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--config", choices=list(CONFIGS))  # worker only
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, nargs="+", default=[3, 2], help="per config")
    ap.add_argument("--timed", type=int, nargs="+", default=[10, 5], help="per config")
    ap.add_argument("--loss-steps", type=int, default=50, help="0 = skip the loss check run")
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=0)  # worker only
    ap.add_argument("--out", help="writes OUT.json and OUT.md")
    ap.add_argument("--bin-commit", default="", help="the commit --bin was built from "
                    "(default: this checkout's HEAD)")
    ap.add_argument("--python", default="/usr/bin/python3", help="the Python that has torch")
    ap.add_argument("--blas-dir", default=DEFAULT_BLAS_DIR if os.path.isdir(DEFAULT_BLAS_DIR) else "",
                    help="LD_LIBRARY_PATH for the PyTorch worker: a folder with OpenBLAS's "
                         "libblas.so.3 ('' = the system's libblas.so.3)")
    ap.add_argument("--longctx-high", action="store_true",
                    help="also run longctx with --matmul-precision high (bf16x3 on AMX tiles) as "
                         "a third implementation in every round")
    ap.add_argument("--torch-worker", action="store_true")
    a = ap.parse_args()
    if a.torch_worker:
        return torch_worker(a)

    res = {"machine": {"cpu": platform.processor() or platform.machine(),
                       "nproc": os.cpu_count(), "python": platform.python_version()},
           "commit": a.bin_commit or git_commit(), "bin": a.bin, "batch": a.batch, "seq_len": a.seq_len, "threads": a.threads,
           "data": a.data, "runs": [], "loss_check": []}
    try:
        with open("/proc/cpuinfo") as f:
            res["machine"]["cpu"] = next(l.split(":", 1)[1].strip() for l in f
                                         if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    impls = ("longctx", "longctx-high", "pytorch") if a.longctx_high else ("longctx", "pytorch")
    if a.loss_steps > 0:
        print("loss check: %s, %d steps" % (a.configs[0], a.loss_steps), flush=True)
        for impl in impls:
            res["loss_check"].append(run(a, impl, a.configs[0], a.loss_steps))
    for rnd in range(a.rounds):
        print("round %d" % (rnd + 1), flush=True)
        for ci, config in enumerate(a.configs):
            w = a.warmup[min(ci, len(a.warmup) - 1)]
            n = a.timed[min(ci, len(a.timed) - 1)]
            # rotate which implementation goes first
            order = impls[rnd % len(impls):] + impls[:rnd % len(impls)]
            for impl in order:
                r = run(a, impl, config, w + n)
                timed = r["steps"][w:]
                r["round"] = rnd + 1
                r["warmup"] = w
                r["tok_s"] = a.batch * a.seq_len * len(timed) / sum(s["seconds"] for s in timed)
                res["runs"].append(r)

    summary = {}
    for config in a.configs:
        rows = {}
        for impl in impls:
            runs = [r for r in res["runs"] if r["config"] == config and r["impl"] == impl]
            rows[impl] = {"n_params": runs[0]["n_params"],
                          "tok_s": spread([r["tok_s"] for r in runs]),
                          "first_loss": spread([r["steps"][0]["loss"] for r in runs]),
                          "last_loss": spread([r["steps"][-1]["loss"] for r in runs]),
                          "steps_per_run": len(runs[0]["steps"])}
        if len({rows[i]["n_params"] for i in impls}) != 1:
            sys.exit("parameter counts differ for %s: %s" % (config, rows))
        rows["ratio_median"] = rows["longctx"]["tok_s"]["median"] / rows["pytorch"]["tok_s"]["median"]
        if a.longctx_high:
            rows["ratio_median_high"] = (rows["longctx-high"]["tok_s"]["median"] /
                                         rows["pytorch"]["tok_s"]["median"])
        summary[config] = rows
    res["summary"] = summary

    md = ["| model | parameters | longctx tok/s median (min-max) | PyTorch tok/s median (min-max) "
          "| longctx / PyTorch | first loss longctx / PyTorch | last loss longctx / PyTorch |",
          "|---|---|---|---|---|---|---|"]
    for config, r in summary.items():
        dim, layers, heads, hidden = CONFIGS[config]
        lt, pt = r["longctx"]["tok_s"], r["pytorch"]["tok_s"]
        md.append("| %s (d %d, %d layers, %d heads, SwiGLU %d) | %s | %.0f (%.0f-%.0f) | "
                  "%.0f (%.0f-%.0f) | %.2fx | %.3f / %.3f | %.3f / %.3f (step %d) |" % (
                      config, dim, layers, heads, hidden, format(r["longctx"]["n_params"], ","),
                      lt["median"], lt["min"], lt["max"], pt["median"], pt["min"], pt["max"],
                      r["ratio_median"], r["longctx"]["first_loss"]["median"],
                      r["pytorch"]["first_loss"]["median"], r["longctx"]["last_loss"]["median"],
                      r["pytorch"]["last_loss"]["median"], r["longctx"]["steps_per_run"]))
        if a.longctx_high:
            ht = r["longctx-high"]["tok_s"]
            md.append("| %s, longctx `--matmul-precision high` | | %.0f (%.0f-%.0f) | | %.2fx | "
                      "%.3f | %.3f |" % (config, ht["median"], ht["min"], ht["max"],
                                         r["ratio_median_high"],
                                         r["longctx-high"]["first_loss"]["median"],
                                         r["longctx-high"]["last_loss"]["median"]))
    if res["loss_check"]:
        md.append("")
        md.append("| loss check (%s, %d steps) | step 1 | step 10 | step %d |" % (
            a.configs[0], a.loss_steps, a.loss_steps))
        md.append("|---|---|---|---|")
        for r in res["loss_check"]:
            s = r["steps"]
            md.append("| %s | %.4f | %.4f | %.4f |" % (
                r["impl"], s[0]["loss"], s[min(9, len(s) - 1)]["loss"], s[-1]["loss"]))
    table = "\n".join(md)
    print(table)
    if a.out:
        with open(a.out + ".json", "w") as f:
            json.dump(res, f, indent=1)
        with open(a.out + "_table.md", "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
