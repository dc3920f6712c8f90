#!/usr/bin/env python3
"""lm-evaluation-harness with the Python model `longctx` (python/longctx/lm_eval_model.py),
checked against the engine's CLI.

1. Writes the `longctx_local` task data (bench/lm_eval/make_data.py) under WORKDIR.
2. Runs lm-eval's own CLI entry point, as `lm_eval --model longctx --model_args
   path=MODEL,attention=A,threads=T --tasks longctx_cloze,longctx_nextword,longctx_books
   --include_path bench/lm_eval/tasks --log_samples --output_path ...`, once per attention
   policy. With the build tree's package (PYTHONPATH=build/python) the model name is registered
   by the package's start-up hook, processed here by site.addsitedir exactly as site-packages'
   .pth files are at start-up; after `pip install .` the `lm_eval` script itself works.
3. Scores every request with the CLI under the same policy: `longctx logits --attn A` over
   context + continuation for the
   loglikelihoods (and whether each continuation token is the argmax), `longctx ppl` on each long
   passage written to a file for the rolling loglikelihoods, `longctx run --temp 0` for the
   generations (cut at the stop string).
4. Compares per request, prints a table, writes --json/--md, exits 1 on any mismatch.

usage: python3 bench/lm_eval_python.py [--model GGUF] [--attention full,lambda] [--limit N]
                                       [--binary build/longctx] [--json F] [--md F]
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = ["longctx_cloze", "longctx_nextword", "longctx_books"]
TASK_DIR = os.path.join(ROOT, "bench", "lm_eval", "tasks")
# lm-eval's console-script function, with the package's start-up hook processed first when the
# package is the build tree's (LONGCTX_SITE) rather than an installed one.
BOOT = ("import os, site, sys\n"
        "d = os.environ.get('LONGCTX_SITE')\n"
        "d and site.addsitedir(d)\n"
        "sys.argv[0] = 'lm_eval'\n"
        "from lm_eval.__main__ import cli_evaluate\n"
        "cli_evaluate()\n")
LL_TOL = 2e-4   # loglikelihood: different block boundaries of the same engine (float32 logits)
ROLL_REL = 1e-7  # rolling: the ppl JSON's mean NLL has 9 significant digits


def assets_dir():
    return os.environ.get("LONGCTX_ASSETS", os.path.join(ROOT, "..", "shared", "assets"))


def run_lm_eval(model, attention, threads, limit, workdir, out):
    args = ["--model", "longctx",
            "--model_args", "path=%s,attention=%s,threads=%d" % (model, attention, threads),
            "--tasks", ",".join(TASKS), "--include_path", TASK_DIR, "--batch_size", "1",
            "--log_samples", "--output_path", out]
    if limit:
        args += ["--limit", str(limit)]
    print("lm_eval " + " ".join(args), flush=True)
    env = dict(os.environ)
    pkg = os.environ.get("LONGCTX_SITE") or os.path.join(ROOT, "build", "python")
    if os.path.exists(os.path.join(pkg, "longctx")):
        env["LONGCTX_SITE"] = pkg
        env["PYTHONPATH"] = pkg + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.time()
    r = subprocess.run([sys.executable, "-c", BOOT, *args], cwd=workdir, env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stdout[-3000:] + r.stderr[-6000:])
        raise SystemExit("lm_eval exited %d" % r.returncode)
    seconds = time.time() - t0
    results = json.load(open(sorted(glob.glob(os.path.join(out, "**", "results_*.json"),
                                              recursive=True))[-1]))
    samples = {}
    for t in TASKS:
        f = sorted(glob.glob(os.path.join(out, "**", "samples_%s_*.jsonl" % t), recursive=True))[-1]
        samples[t] = [json.loads(line) for line in open(f, encoding="utf-8")]
    return results, samples, seconds, r.stdout


class Engine:
    """The CLI's answers (a second path to the same engine: separate process, other blocks)."""

    def __init__(self, binary, model, attention, tok_model):
        self.binary, self.model, self.attention, self.tok = binary, model, attention, tok_model

    def cli(self, *args):
        r = subprocess.run([self.binary, *map(str, args)], capture_output=True)
        if r.returncode != 0:
            raise SystemExit("longctx %s: %s" % (args[0], r.stderr.decode()[-2000:]))
        return r.stdout

    def loglikelihood(self, ctx, cont, scratch):
        ids = ctx + cont
        out = os.path.join(scratch, "logits.f32")
        self.cli("logits", "-m", self.model, "--tokens", ",".join(map(str, ids)), "--out", out,
                 "--attn", self.attention)
        lg = np.fromfile(out, dtype=np.float32).reshape(len(ids), -1).astype(np.float64)
        rows = lg[len(ctx) - 1:len(ids) - 1]
        m = rows.max(axis=1)
        lse = m + np.log(np.exp(rows - m[:, None]).sum(axis=1))
        ll = float(np.sum(rows[np.arange(len(cont)), cont] - lse))
        return ll, bool(np.all(rows.argmax(axis=1) == np.asarray(cont)))

    def rolling(self, text, scratch):
        doc = os.path.join(scratch, "doc.txt")
        with open(doc, "w", encoding="utf-8") as f:
            f.write(text)
        js = os.path.join(scratch, "ppl.json")
        self.cli("ppl", "-m", self.model, "-f", doc, "--attn", self.attention, "--json", js)
        r = json.load(open(js))["results"][0]
        return -r["mean_nll"] * r["positions_scored"]

    def generate(self, context, until, max_tokens):
        out = self.cli("run", "-m", self.model, "-p", context, "-n", max_tokens, "--temp", 0,
                       "--attn", self.attention).decode("utf-8", "replace")
        text = out[len(context):-1]
        for u in until:
            if u in text:
                text = text[:text.index(u)]
        return text


def arguments(sample):
    """A sample's request arguments as tuples: lm-eval logs them as {gen_args_i: {arg_j}}."""
    a = sample["arguments"]
    if isinstance(a, dict):
        a = [a[k] for k in sorted(a, key=lambda k: int(k.rsplit("_", 1)[1]))]
    return [tuple(x[k] for k in sorted(x, key=lambda k: int(k.rsplit("_", 1)[1])))
            if isinstance(x, dict) else tuple(x) for x in a]


def compare(samples, eng, tok_model, scratch):
    from longctx.lm_eval_model import LongctxLM
    rows = {"loglikelihood": [], "rolling": [], "generate": []}
    for s in samples["longctx_cloze"]:
        for (context, continuation), resp in zip(arguments(s), s["resps"]):
            ctx, cont = LongctxLM._encode_pair(tok_model, context, continuation)
            want, greedy = eng.loglikelihood(ctx, cont, scratch)
            got, got_greedy = float(resp[0][0]), resp[0][1] in (True, "True")
            rows["loglikelihood"].append({"doc": s["doc_id"], "lm_eval": got, "cli": want,
                                          "abs_diff": abs(got - want),
                                          "greedy_equal": greedy == got_greedy})
    for s in samples["longctx_books"]:
        (text,) = arguments(s)[0][-1:]
        got = float(s["resps"][0][0])
        want = eng.rolling(text, scratch)
        rows["rolling"].append({"doc": s["doc_id"], "tokens": len(tok_model.model.tokenize(text)),
                                "lm_eval": got, "cli": want,
                                "rel_diff": abs(got - want) / abs(want)})
    for s in samples["longctx_nextword"]:
        context, kw = arguments(s)[0]
        got = s["resps"][0][0]
        want = eng.generate(context, kw.get("until", []), kw.get("max_gen_toks", 256))
        rows["generate"].append({"doc": s["doc_id"], "lm_eval": got, "cli": want,
                                 "equal": got == want})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(assets_dir(), "real_models",
                                                     "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--attention", default="full,lambda")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="items per task (0 = all)")
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "longctx"))
    ap.add_argument("--json", help="write the record here")
    ap.add_argument("--md", help="write the tables here")
    a = ap.parse_args()
    if not os.path.exists(a.model):
        raise SystemExit("%s is absent (set LONGCTX_ASSETS or --model)" % a.model)
    work = tempfile.mkdtemp(prefix="lm_eval_python.")
    data = os.path.join(work, "build", "lm_eval", "longctx_local")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "lm_eval", "make_data.py"), data],
                   check=True, stdout=subprocess.DEVNULL)
    scratch = os.path.join(work, "scratch")
    os.makedirs(scratch)

    import longctx
    from longctx.lm_eval_model import LongctxLM  # noqa: F401 (registers before the comparison)

    class Tok:  # what LongctxLM._encode_pair needs
        def __init__(self, m):
            self.model = m
    record = {"model": a.model, "tasks": TASKS, "limit": a.limit, "threads": a.threads,
              "command": "python3 bench/lm_eval_python.py " + " ".join(sys.argv[1:]), "runs": []}
    ok = True
    lines = []
    tok_model = Tok(longctx.Model(a.model, threads=a.threads))
    for attention in a.attention.split(","):
        out = os.path.join(work, "out-" + attention.replace(":", "_"))
        results, samples, seconds, _ = run_lm_eval(a.model, attention, a.threads, a.limit, work, out)
        eng = Engine(a.binary, a.model, attention, tok_model)
        rows = compare(samples, eng, tok_model, scratch)
        metrics = {t: {k: v for k, v in results["results"][t].items()
                       if not k.endswith("_stderr,none") and k != "alias"} for t in TASKS}
        worst_ll = max(r["abs_diff"] for r in rows["loglikelihood"])
        worst_roll = max(r["rel_diff"] for r in rows["rolling"])
        checks = {
            "loglikelihood_requests": len(rows["loglikelihood"]),
            "loglikelihood_max_abs_diff": worst_ll,
            "greedy_flags_equal": all(r["greedy_equal"] for r in rows["loglikelihood"]),
            "rolling_documents": len(rows["rolling"]),
            "rolling_max_rel_diff": worst_roll,
            "generations_equal": sum(r["equal"] for r in rows["generate"]),
            "generations": len(rows["generate"]),
        }
        passed = (worst_ll <= LL_TOL and worst_roll <= ROLL_REL and checks["greedy_flags_equal"]
                  and checks["generations_equal"] == checks["generations"])
        ok &= passed
        record["runs"].append({"attention": attention, "lm_eval_seconds": seconds,
                               "metrics": metrics, "checks": checks, "passed": passed,
                               "requests": rows})
        lines.append("| %s | %.4f | %.4f | %.4f | %.3f | %d, max %.1e | %d, max %.1e | %d/%d | %.0f | %s |" % (
            attention, metrics["longctx_cloze"]["acc,none"], metrics["longctx_cloze"]["acc_norm,none"],
            metrics["longctx_nextword"]["exact_match,first_word"],
            metrics["longctx_books"]["word_perplexity,none"], checks["loglikelihood_requests"],
            worst_ll, checks["rolling_documents"], worst_roll, checks["generations_equal"],
            checks["generations"], seconds, "PASS" if passed else "FAIL"))
    table = ("| attention | cloze acc | acc_norm | nextword exact | books word ppl | "
             "loglikelihoods vs CLI | rolling vs CLI (rel) | generations equal | lm_eval s | |\n"
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n" + "\n".join(lines) + "\n")
    print(table)
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1)
    if a.md:
        with open(a.md, "w", encoding="utf-8") as f:
            f.write(table)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
