#!/usr/bin/env python3
"""Perplexity of a GGUF model on a text: longctx `ppl` vs llama.cpp, on the same protocol.

Protocol (what `longctx ppl --stride W` does, replicated token for token on llama.cpp):
  * the text is one document: tokenize(text), BOS first only where the file says so
    (tokenizer.ggml.add_bos_token; SmolLM2's is false), as both engines do, cut to
    --max-tokens N (default: all);
  * non-overlapping windows of W = min(trained context, N) tokens (longctx's strided windows
    are as long as the model's trained context, 8192 for SmolLM2; stride = W), each from an
    empty KV cache; in each window, the tokens at window index 1 .. len-1 are predicted from
    the ones before them (the first token of a window is context only);
  * NLL of each target from the full-vocabulary log-softmax of its logits; perplexity =
    exp(mean NLL over all targets).
  longctx:   longctx ppl -m MODEL -f TEXT --stride W [--max-len N] -t T --bin B --json J
  llama.cpp: llama-cpp-python low-level API, n_ctx = W, n_batch = n_ubatch = 512, logits of
             every token of each 512-token llama_batch (logits flag set per token), the window's
             batches at positions 0.., NLL computed here in numpy; tokens from llama.cpp's own
             tokenizer (llama_tokenize, add_special = false, parse_special = false), BOS first
             where the file asks for it.
  Both runs use --threads T (default 2).

Tokenization: longctx tokenizes the text itself (its GGUF BPE tokenizer), so the two engines
score the same ids only if the tokenizers agree (for SmolLM2 on wikitext2_test.txt they do: the
same 304,978 ids, checked by tests/parity/smollm2_parity.py). The script reports
both token counts (longctx's `tokens_total` from its JSON vs llama.cpp's), compares the mean
NLL per --bin window of document positions (a shifted tokenization shows up as bins that
diverge from some point on), and, with --id-check K (default 256), scores the first K ids of
llama.cpp's tokenization with BOTH engines on identical ids (`longctx logits --tokens`), which
separates numeric differences from tokenization differences.

Usage:
  /usr/bin/python3 bench/ppl_vs_llamacpp.py --json docs/results/ppl_smollm2_q4_1.json
  /usr/bin/python3 bench/ppl_vs_llamacpp.py --max-tokens 1024          # quick
Needs build/longctx, llama_cpp and numpy in this interpreter.
"""

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import llamacpp_worker as W  # noqa: E402


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def nll_rows(logits, targets):
    """NLL of targets[i] under log_softmax(logits[i]) (float64 accumulation)."""
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0].astype(np.float64) + np.log(np.exp(logits - m).sum(axis=1, dtype=np.float64))
    return lse - logits[np.arange(len(targets)), targets].astype(np.float64)


def llama_tokenize(eng, text):
    import llama_cpp as L
    data = text.encode("utf-8")
    cap = len(data) + 16
    buf = (L.llama_token * cap)()
    n = L.llama_tokenize(eng.vocab, data, len(data), buf, cap, False, False)
    if n < 0:
        raise RuntimeError(f"llama_tokenize needs {-n} tokens")
    return list(buf[:n])


def llama_windows(eng, ids, window, batch, progress=True):
    """Per-target NLL (document index -> nll) over non-overlapping windows."""
    out_idx, out_nll = [], []
    t0 = time.time()
    for begin in range(0, len(ids) - 1, window):
        end = min(begin + window, len(ids))
        if end - begin < 2:
            break
        eng.clear()
        for j in range(0, end - begin, batch):
            chunk = ids[begin + j: min(begin + j + batch, end)]
            lg = eng.all_logits(chunk, pos0=j)
            # row r predicts the token at window index j + r + 1, if it is inside the window
            n_t = min(len(chunk), end - begin - 1 - j)
            if n_t <= 0:
                continue
            tgt = np.array(ids[begin + j + 1: begin + j + 1 + n_t])
            out_nll.append(nll_rows(lg[:n_t], tgt))
            out_idx.append(np.arange(begin + j + 1, begin + j + 1 + n_t))
        if progress:
            done = end
            log(f"  llama.cpp: {done}/{len(ids)} tokens, {done / (time.time() - t0):.0f} tok/s")
    return np.concatenate(out_idx), np.concatenate(out_nll), time.time() - t0


def bins_of(idx, nll, b):
    nb = int(idx.max()) // b + 1
    s = np.bincount(idx // b, weights=nll, minlength=nb)
    c = np.bincount(idx // b, minlength=nb)
    return s, c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--longctx", default=os.path.join(ROOT, "build", "longctx"))
    ap.add_argument("--model", default="/work/shared/assets/real_models/"
                                       "SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--text", default="/work/shared/assets/corpora/wikitext2_test.txt")
    ap.add_argument("--max-tokens", type=int, default=0,
                    help="score only the first N tokens (BOS included); 0 = all")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=0,
                    help="window length (default: the trained context); 512 is llama-perplexity's")
    ap.add_argument("--parallel", action="store_true",
                    help="run the two engines at the same time, --threads each (the scores do "
                         "not depend on timing; tok/s then does, and is not a speed comparison)")
    ap.add_argument("--bin", type=int, default=128, help="positions per NLL bin (comparison)")
    ap.add_argument("--id-check", type=int, default=256,
                    help="score the first K llama.cpp token ids with both engines on identical "
                         "ids via `longctx logits --tokens` (0 = skip)")
    ap.add_argument("--skip-longctx", action="store_true", help="llama.cpp side only")
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    args = ap.parse_args()
    W.capture_logs(echo_level=4)
    text = open(args.text, encoding="utf-8").read()

    # llama.cpp: tokenization and window size.
    probe = W.Engine(args.model, 512, args.threads, all_outputs=True)
    info = probe.info()
    toks = llama_tokenize(probe, text)
    bos = info["bos"]
    ids_all = ([bos] if info["add_bos"] else []) + toks
    n = min(len(ids_all), args.max_tokens) if args.max_tokens else len(ids_all)
    ids = ids_all[:n]
    ctx_train = info["n_ctx_train"]
    window = min(args.ctx or ctx_train, n)
    log(f"llama.cpp tokenizer: {len(toks)} tokens (BOS {bos} first: {info['add_bos']}); scoring {n} tokens in windows "
        f"of {window} (trained context {ctx_train})")

    # Exact-id check on the first K ids.
    id_check = None
    if args.id_check:
        k = min(args.id_check, n, 512)
        probe.clear()
        ll = probe.all_logits(ids[:k])
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "lc.bin")
            cmd = [args.longctx, "logits", "-m", args.model, "--tokens",
                   ",".join(map(str, ids[:k])), "--out", out, "-t", str(args.threads)]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit(f"longctx logits failed: {p.stderr[-2000:]}")
            lc = np.fromfile(out, dtype=np.float32).reshape(ll.shape)
        tgt = np.array(ids[1:k])
        a, b = nll_rows(lc[:-1], tgt), nll_rows(ll[:-1], tgt)
        id_check = {"tokens": k, "targets": k - 1,
                    "longctx_mean_nll": float(a.mean()), "llamacpp_mean_nll": float(b.mean()),
                    "longctx_ppl": float(math.exp(a.mean())),
                    "llamacpp_ppl": float(math.exp(b.mean())),
                    "ppl_rel_diff": float(math.exp(a.mean() - b.mean()) - 1),
                    "max_abs_nll_diff": float(np.abs(a - b).max()),
                    "mean_abs_nll_diff": float(np.abs(a - b).mean()),
                    "argmax_agree_frac": float((lc.argmax(1) == ll.argmax(1)).mean()),
                    "rel_max_logit_diff": float(np.abs(lc - ll).max() / np.abs(ll).max())}
        log(f"identical-id check ({k} tokens): ppl longctx {id_check['longctx_ppl']:.4f} vs "
            f"llama.cpp {id_check['llamacpp_ppl']:.4f} ({id_check['ppl_rel_diff']:+.3%}), "
            f"argmax agree {id_check['argmax_agree_frac']:.1%}")
    probe.close()

    # longctx (a child process; with --parallel it runs while llama.cpp scores).
    lcx, cmp_bins, child = None, None, None
    tmpdir = tempfile.TemporaryDirectory()
    js = os.path.join(tmpdir.name, "ppl.json")
    cmd = [args.longctx, "ppl", "-m", args.model, "-f", args.text, "--stride", str(window),
           "--ctx", str(window), "-t", str(args.threads), "--bin", str(args.bin), "--json", js]
    if args.max_tokens:
        cmd += ["--max-len", str(args.max_tokens)]

    def start_longctx():
        log("$ " + " ".join(map(shlex.quote, cmd)))
        # Output to files: a pipe nobody reads while llama.cpp runs could fill and stall it.
        out = open(os.path.join(tmpdir.name, "stdout"), "w")
        err = open(os.path.join(tmpdir.name, "stderr"), "w")
        return time.time(), subprocess.Popen(cmd, stdout=out, stderr=err)

    if not args.skip_longctx and args.parallel:
        child = start_longctx()

    # llama.cpp over the windows.
    eng = W.Engine(args.model, window, args.threads, n_batch=512, n_ubatch=512, all_outputs=True)
    idx, nll, secs = llama_windows(eng, ids, window, 512)
    eng.close()
    llama = {"tokens_used": n, "tokenizer_tokens_total": len(ids_all),
             "positions_scored": int(len(nll)), "mean_nll": float(nll.mean()),
             "perplexity": float(math.exp(nll.mean())), "seconds": secs,
             "tokens_per_second": n / secs, "info": info}
    ls, lcnt = bins_of(idx, nll, args.bin)

    if not args.skip_longctx:
        if child is None:
            child = start_longctx()
        t0, p = child
        p.wait()
        if p.returncode != 0:
            err = open(os.path.join(tmpdir.name, "stderr")).read()
            sys.exit(f"longctx ppl failed (rc {p.returncode}):\n{err[-3000:]}")
        wall = time.time() - t0
        j = json.load(open(js))
        r = j["results"][0]
        doc = j["documents"][0]
        lcx = {"cmd": " ".join(map(shlex.quote, cmd)), "tokens_used": doc["tokens_used"],
               "tokenizer_tokens_total": doc["tokens_total"],
               "positions_scored": r["positions_scored"], "mean_nll": r["mean_nll"],
               "perplexity": r["perplexity"], "seconds": r["seconds"], "wall_s": wall,
               "tokens_per_second": r["tokens_per_second"], "stride_window": j["stride_window"],
               "attention": r["resolved_label"]}
        # Bin-by-bin comparison of the mean NLL over document positions.
        b = r["bins"]
        m = min(len(b["mean_nll"]), len(ls))
        diffs = []
        for k in range(m):
            if b["count"][k] and lcnt[k]:
                diffs.append((k, b["mean_nll"][k] - ls[k] / lcnt[k], b["count"][k], int(lcnt[k])))
        big = [d for d in diffs if abs(d[1]) > 0.05]
        cmp_bins = {"bins_compared": len(diffs),
                    "max_abs_bin_diff": max((abs(d[1]) for d in diffs), default=None),
                    "median_abs_bin_diff": float(np.median([abs(d[1]) for d in diffs]))
                    if diffs else None,
                    "first_bin_over_0.05": big[0][0] * args.bin if big else None,
                    "bins_over_0.05": len(big),
                    "count_mismatches": sum(1 for d in diffs if d[2] != d[3]),
                    "per_bin": [{"start": d[0] * args.bin, "longctx_minus_llamacpp": d[1]}
                                for d in diffs]}

    res = {"model": args.model, "text": args.text, "max_tokens": args.max_tokens,
           "window": window, "threads": args.threads, "parallel": args.parallel, "bos_prepended": info["add_bos"],
           "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": sys.argv,
           "llama.cpp": llama, "longctx": lcx, "id_check": id_check, "bin_comparison": cmp_bins}
    if lcx:
        res["ppl_rel_diff"] = lcx["perplexity"] / llama["perplexity"] - 1
        res["same_token_count"] = lcx["tokenizer_tokens_total"] == llama["tokenizer_tokens_total"]

    md = [f"### Perplexity: {os.path.basename(args.model)} on {os.path.basename(args.text)}"
          f" ({n} tokens{' incl. BOS' if info['add_bos'] else ''}, non-overlapping windows of {window}, {args.threads} threads)",
          "", "| engine | tokens in document (tokenizer) | positions scored | mean NLL | "
              "perplexity | tok/s |", "|---|---:|---:|---:|---:|---:|"]
    for name, x in (("longctx", lcx), ("llama.cpp", llama)):
        if x:
            md.append(f"| {name} | {x['tokenizer_tokens_total']} | {x['positions_scored']} | "
                      f"{x['mean_nll']:.5f} | {x['perplexity']:.4f} | "
                      f"{x['tokens_per_second']:.1f} |")
    if lcx:
        md += ["", f"longctx / llama.cpp perplexity - 1: **{res['ppl_rel_diff']:+.3%}** "
                   f"(target: within 1%). Token counts "
                   f"{'agree' if res['same_token_count'] else 'DIFFER'} "
                   f"({lcx['tokenizer_tokens_total']} vs {llama['tokenizer_tokens_total']}). "
                   f"Mean NLL per {args.bin}-position bin: max |diff| "
                   f"{cmp_bins['max_abs_bin_diff']:.4f}, "
                   f"median {cmp_bins['median_abs_bin_diff']:.4f}"
                   f" over {cmp_bins['bins_compared']} bins"
                   + (f"; first bin off by > 0.05 nats at position "
                      f"{cmp_bins['first_bin_over_0.05']}" if cmp_bins["first_bin_over_0.05"]
                      is not None else "") + "."]
    if id_check:
        md += ["", f"Identical ids (first {id_check['tokens']} llama.cpp tokens, "
                   f"`longctx logits --tokens`): perplexity longctx {id_check['longctx_ppl']:.4f}"
                   f", llama.cpp {id_check['llamacpp_ppl']:.4f} "
                   f"({id_check['ppl_rel_diff']:+.3%}); per-token NLL |diff| mean "
                   f"{id_check['mean_abs_nll_diff']:.4f}, max {id_check['max_abs_nll_diff']:.4f}; "
                   f"argmax agreement {id_check['argmax_agree_frac']:.1%}."]
    md.append("")
    text_md = "\n".join(md)
    print(text_md)
    if args.markdown:
        open(args.markdown, "w").write(text_md)
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(res, fh, indent=1)
            fh.write("\n")
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
