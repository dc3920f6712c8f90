#!/usr/bin/env python3
"""The embedded default model (a byte-level Llama) against its BASED twin of equal size.

Three comparisons, all through the `longctx` binary (the engine, not the trainer):
  1. perplexity on the held-out text (the last --val-frac of every training document, exactly the
     split `longctx train --val-frac` made): windowed at the trained context, and as long
     documents scored by position (Llama full attention, Llama LM-Infinite lambda, BASED);
  2. recall on text: a passage of held-out text is shown, then `gap` bytes of other text, then
     the passage again; next-byte accuracy on the repeat (after its first `key` bytes) against
     a control where the first showing is replaced by other text. The difference is what the
     model recalls from its context (attention can copy; a fixed-size state must compress);
  3. decode tokens/s versus context (`bench --fill N`: random cache/state contents stand in for
     N tokens), Llama full attention, Llama lambda and BASED.

Writes JSON (--json) and a markdown report (--md). Example:
  python3 bench/default_twins.py --bin build/longctx --json docs/results/default_models.json \
      --md docs/results/default_models.md
"""
import argparse
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time

CORPORA = ["wikitext2_test.txt", "pride_and_prejudice.txt", "frankenstein.txt",
           "tinyshakespeare.txt"]


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), p.stderr[-2000:]))
    return p


def held_out_tails(assets, frac):
    """The held-out part of each training document: train.cc's split_documents rule."""
    tails = []
    for name in CORPORA:
        data = open(os.path.join(assets, "corpora", name), "rb").read()
        n = int(len(data) * frac)  # static_cast<size_t>(size * frac): floor
        tails.append((name, data[len(data) - n:]))
    return tails


def ppl(args, model, files, extra):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as t:
        out = t.name
    cmd = [args.bin, "ppl", "-m", model, "-t", str(args.threads), "--json", out] + extra
    for f in files:
        cmd += ["-f", f]
    run(cmd)
    d = json.load(open(out))
    os.unlink(out)
    return d


def logits(args, model, tokens, vocab):
    with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as t:
        out = t.name
    run([args.bin, "logits", "-m", model, "-t", "1", "--tokens", ",".join(map(str, tokens)),
         "--out", out])
    raw = open(out, "rb").read()
    os.unlink(out)
    n = len(tokens)
    assert len(raw) == 4 * n * vocab, (len(raw), n, vocab)
    rows = []
    for i in range(n):
        row = struct.unpack_from("<%df" % vocab, raw, 4 * i * vocab)
        rows.append(max(range(vocab), key=row.__getitem__))
    return rows


def recall(args, models, tails):
    rng = random.Random(args.seed)
    text = b"\n\n".join(t for _, t in tails)
    P, key = args.passage, args.key
    gaps = [int(g) for g in args.gaps.split(",")]
    out = {"passage": P, "key": key, "samples": args.samples, "gaps": gaps, "models": {}}
    draws = []
    for _ in range(args.samples):
        # Passage, filler and control text from three random places of the held-out text.
        a, b, c = (rng.randrange(0, len(text) - P - max(gaps) - 1) for _ in range(3))
        draws.append((a, b, c))
    for label, model in models:
        res = {}
        for gap in gaps:
            hit = {"repeat": 0, "control": 0}
            total = 0
            for a, b, c in draws:
                passage = list(text[a:a + P])
                filler = list(text[b:b + gap])
                control = list(text[c:c + P])
                for kind, first in (("repeat", passage), ("control", control)):
                    toks = [256] + first + filler + passage
                    pred = logits(args, model, toks, 257)
                    start = 1 + P + gap  # position of the repeat's first byte
                    for i in range(start + key, len(toks)):
                        hit[kind] += pred[i - 1] == toks[i]
                    if kind == "repeat":
                        total += len(toks) - start - key
            res[str(gap)] = {"repeat_acc": hit["repeat"] / total,
                             "control_acc": hit["control"] / total,
                             "distance": P + gap, "scored": total}
            print("recall %-6s gap %4d: repeat %.3f control %.3f" %
                  (label, gap, res[str(gap)]["repeat_acc"], res[str(gap)]["control_acc"]),
                  file=sys.stderr)
        out["models"][label] = res
    return out


def bench(args, model, fill, extra):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as t:
        out = t.name
    run([args.bin, "bench", "-m", model, "-t", str(args.threads), "--fill", str(fill),
         "--prompt", "1", "--gen", str(args.gen), "--reps", str(args.reps), "--json", out] + extra)
    d = json.load(open(out))
    os.unlink(out)
    mem = d.get("state_bytes_per_seq", d.get("kv_cache_bytes"))
    return {"tok_s_median": d["decode"]["tok_s_median"], "tok_s_p10": d["decode"]["tok_s_p10"],
            "tok_s_p90": d["decode"]["tok_s_p90"], "memory_bytes": mem,
            "peak_rss_bytes": d["peak_rss_bytes"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/longctx")
    ap.add_argument("--llama", default="models/default")
    ap.add_argument("--based", default="models/default-based")
    ap.add_argument("--assets", default=os.environ.get("LONGCTX_ASSETS", "../shared/assets"))
    ap.add_argument("--val-frac", type=float, default=0.02)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--long", type=int, default=8192, help="long-document length (bytes)")
    ap.add_argument("--passage", type=int, default=64)
    ap.add_argument("--key", type=int, default=8)
    ap.add_argument("--gaps", default="0,32,64,96,127")
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--contexts", default="256,1024,4096,16384,65536")
    ap.add_argument("--gen", type=int, default=64)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json", required=True)
    ap.add_argument("--md", required=True)
    args = ap.parse_args()
    t0 = time.time()
    tails = held_out_tails(args.assets, args.val_frac)
    tmp = tempfile.mkdtemp(prefix="longctx_twins_")
    files = []
    for name, data in tails:
        files.append(os.path.join(tmp, name))
        open(files[-1], "wb").write(data)
    res = {"held_out": {n: len(d) for n, d in tails}, "settings": vars(args)}

    # 1. Perplexity: windowed at the trained context, then long documents by position.
    windowed, long = {}, {}
    for label, model, extra in (("llama", args.llama, []), ("based", args.based, [])):
        d = ppl(args, model, files, ["--stride", "128"] + extra)
        windowed[label] = d["results"][0]["mean_nll"]
    long_files = [f for f, (_, d) in zip(files, tails) if len(d) >= args.long]
    # The sliding window (the last 256, no sinks) is the baseline LM-Infinite must beat.
    for label, model, extra in (("llama full", args.llama, ["--attn", "full"]),
                                ("llama lambda", args.llama, ["--attn", "lambda"]),
                                ("llama window", args.llama, ["--attn", "window"]),
                                ("based", args.based, [])):
        d = ppl(args, model, long_files, ["--max-len", str(args.long), "--bin", "256"] + extra)
        r = d["results"][0]
        long[label] = {"mean_nll": r["mean_nll"], "bins": r["bins"], "label": r["resolved_label"]}
    res["ppl_windowed_nll"] = windowed
    res["ppl_long"] = {"documents": [os.path.basename(f) for f in long_files], "results": long}

    # 2. Recall on text.
    res["recall"] = recall(args, [("llama", args.llama), ("based", args.based)], tails)

    # 3. Decode speed vs context.
    speed = {}
    for n in [int(x) for x in args.contexts.split(",")]:
        speed[str(n)] = {
            "llama full": bench(args, args.llama, n, ["--attn", "full", "--ctx", str(n + 80)]),
            "llama lambda": bench(args, args.llama, n, ["--attn", "lambda"]),
            "based": bench(args, args.based, n, []),
        }
        print("decode at %6d: %s" % (n, {k: round(v["tok_s_median"]) for k, v in
                                          speed[str(n)].items()}), file=sys.stderr)
    res["decode_vs_context"] = speed
    res["seconds"] = time.time() - t0
    res["load_avg"] = os.getloadavg()
    json.dump(res, open(args.json, "w"), indent=1)
    write_md(args, res)


def write_md(args, r):
    ln2 = 0.6931471805599453
    o = []
    o.append("### Held-out perplexity (windows of 256, stride 128)\n")
    o.append("| model | NLL (nats/byte) | bits/byte |\n|---|---:|---:|")
    for k, v in r["ppl_windowed_nll"].items():
        o.append("| %s | %.4f | %.3f |" % (k, v, v / ln2))
    L = r["ppl_long"]
    o.append("\n### Long documents: mean NLL (nats/byte) by position (%s, first %d bytes)\n"
             % (", ".join(L["documents"]), args.long))
    labels = list(L["results"])
    o.append("| positions | " + " | ".join(L["results"][k]["label"] for k in labels) + " |")
    o.append("|---|" + "---:|" * len(labels))
    starts = L["results"][labels[0]]["bins"]["start"]
    for i, s in enumerate(starts):
        o.append("| %d-%d | " % (s, s + 255) + " | ".join(
            "%.3f" % L["results"][k]["bins"]["mean_nll"][i] for k in labels) + " |")
    o.append("| all | " + " | ".join("%.3f" % L["results"][k]["mean_nll"] for k in labels) + " |")
    R = r["recall"]
    o.append("\n### Recall on text: next-byte accuracy on a repeated %d-byte passage "
             "(after its first %d bytes), %d samples\n" % (R["passage"], R["key"], R["samples"]))
    o.append("| gap (bytes) | distance | " + " | ".join(
        "%s repeat | %s control | %s gain" % (m, m, m) for m in R["models"]) + " |")
    o.append("|---:|---:|" + "---:|" * (3 * len(R["models"])))
    for g in R["gaps"]:
        row = []
        for m in R["models"]:
            x = R["models"][m][str(g)]
            row.append("%.3f | %.3f | %+.3f" % (x["repeat_acc"], x["control_acc"],
                                                x["repeat_acc"] - x["control_acc"]))
        o.append("| %d | %d | " % (g, R["models"][list(R["models"])[0]][str(g)]["distance"]) +
                 " | ".join(row) + " |")
    S = r["decode_vs_context"]
    kinds = list(next(iter(S.values())))
    o.append("\n### Decode tokens/s versus context (batch 1, %d threads, median of %d reps; "
             "p10-p90 in parentheses)\n" % (args.threads, args.reps))
    o.append("| context | " + " | ".join(kinds) + " | " +
             " | ".join("%s memory" % k for k in kinds) + " |")
    o.append("|---:|" + "---:|" * (2 * len(kinds)))
    for n, v in S.items():
        o.append("| %s | " % n + " | ".join(
            "%.0f (%.0f-%.0f)" % (v[k]["tok_s_median"], v[k]["tok_s_p10"], v[k]["tok_s_p90"])
            for k in kinds) + " | " + " | ".join(
            "%.2f MiB" % (v[k]["memory_bytes"] / 2**20) for k in kinds) + " |")
    o.append("\n(%.0f s, load average at the end %.2f %.2f %.2f)\n" %
             ((r["seconds"],) + tuple(r["load_avg"])))
    # Keep the passkey section that bench/default_passkey.py maintains.
    old = open(args.md).read() if os.path.exists(args.md) else ""
    begin, end = "<!-- passkey:begin -->", "<!-- passkey:end -->"
    if begin in old and end in old:
        o.append(old[old.index(begin):old.index(end) + len(end)])
    open(args.md, "w").write("\n".join(o) + "\n")


if __name__ == "__main__":
    main()
