#!/usr/bin/env python3
"""lm-evaluation-harness against `longctx serve`, checked against the engine's own scoring.

1. Writes the `longctx_local` task data (bench/lm_eval/make_data.py) to build/lm_eval/longctx_local
   and a Hugging Face tokenizer built from the GGUF's own vocabulary, merges and special tokens
   to a temporary directory (outside the repository).
2. Starts `longctx serve` and runs lm-eval's `local-completions` model on the tasks
   longctx_cloze (multiple choice: loglikelihood requests, acc / acc_norm) and longctx_nextword
   (generate_until, greedy, exact_match), with --log_samples; lm-eval's results and per-sample
   outputs are written to --output_path. Every payload lm-eval sends is recorded. Then a probe:
   lm-eval's loglikelihood code on one chat-turn continuation after which the greedy next token
   is EOS (the server must still list one token after the prompt, which lm-eval drops).
3. Stops the server, then scores every request with the engine alone: `longctx tokenize` for the
   token ids (compared with the ids lm-eval sent), `longctx logits` over context + continuation
   for the loglikelihoods (sum of the continuation tokens' log-softmax) and whether the
   continuation is greedy, `longctx run --temp 0` for the generations (cut at the stop string).
4. Compares per request and per metric, prints a table, writes --json, exits 1 on a mismatch.

usage: python3 bench/lm_eval_server.py [--binary build/longctx] [--model GGUF] [--json FILE]
"""
import argparse
import atexit
import copy
import json
import os
import re
import shutil
import string
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "server"))
sys.path.insert(0, os.path.join(ROOT, "bench", "lm_eval"))
import serverlib  # noqa: E402

TASKS = ["longctx_cloze", "longctx_nextword"]
DATA_DIR = os.path.join("build", "lm_eval", "longctx_local")  # relative to ROOT, as in the YAMLs
TASK_DIR = os.path.join(ROOT, "bench", "lm_eval", "tasks")
# A continuation after which SmolLM2-Instruct's greedy next token is <|im_end|> (id 2): the
# server must still return one entry after the prompt, which lm-eval drops as the generated one.
PROBE = ("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n", "2+2 = 4.")


# ---------------------------------------------------------------- tokenizer for lm-eval

def gguf_tokenizer_dir(gguf_path, out_dir):
    """A tokenizer.json (+ config) equal to the GGUF's BPE: its vocabulary, merges and control
    tokens, the SmolLM pre-tokenizer (digits split one by one, then GPT-2 byte-level), no BOS
    added (tokenizer.ggml.add_bos_token), BOS/EOS from the GGUF ids. Built here rather than by
    transformers' GGUF loader: its ids agree, but (4.44) it names <|im_start|> as EOS (lm-eval
    adds the EOS text to generate_until's stop strings), sets add_bos_token and leaves out the
    digit split (harmless for SmolLM2, whose vocabulary has no multi-digit tokens)."""
    from gguf import GGUFReader
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from tokenizers import AddedToken
    from transformers import PreTrainedTokenizerFast

    r = GGUFReader(gguf_path)

    def field(key):
        f = r.fields[key]
        if f.types[0].name == "ARRAY":
            if f.types[-1].name == "STRING":
                return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
            return [f.parts[i].tolist()[0] for i in f.data]
        v = f.parts[f.data[0]]
        return bytes(v).decode("utf-8") if f.types[0].name == "STRING" else v.tolist()[0]

    model = field("tokenizer.ggml.model")
    pre = field("tokenizer.ggml.pre")
    if model != "gpt2" or pre not in ("smollm", "default", "gpt2"):
        raise SystemExit("tokenizer %s/%s: only GPT-2 style BPE (SmolLM) is handled here" % (model, pre))
    tokens = field("tokenizer.ggml.tokens")
    types = field("tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ", 1)) for m in field("tokenizer.ggml.merges")]
    bpe = models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges)
    tk = Tokenizer(bpe)
    steps = [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    if pre == "smollm":
        steps.insert(0, pre_tokenizers.Digits(individual_digits=True))
    tk.pre_tokenizer = pre_tokenizers.Sequence(steps)
    tk.decoder = decoders.ByteLevel()
    control = [t for t, ty in zip(tokens, types) if ty == 3]  # CONTROL
    tk.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in control])
    bos = tokens[field("tokenizer.ggml.bos_token_id")]
    eos = tokens[field("tokenizer.ggml.eos_token_id")]
    fast = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token=bos, eos_token=eos,
                                   unk_token=tokens[field("tokenizer.ggml.unknown_token_id")],
                                   clean_up_tokenization_spaces=False)
    fast.save_pretrained(out_dir)
    return out_dir


# ---------------------------------------------------------------- engine side

class Engine:
    def __init__(self, binary, model, threads, scratch):
        self.binary, self.model, self.threads, self.scratch = binary, model, threads, scratch
        self._tok_cache = {}

    def _file(self, name, text):
        p = os.path.join(self.scratch, name)
        with open(p, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        return p

    def tokenize(self, text, special=False):
        if (text, special) not in self._tok_cache:
            out = subprocess.run([self.binary, "tokenize", "-m", self.model, "--no-bos",
                                  "-f", self._file("tok.txt", text)] + (["--special"] if special else []),
                                 check=True, capture_output=True, text=True).stdout.strip()
            self._tok_cache[(text, special)] = [int(x) for x in out.split(",")] if out else []
        return self._tok_cache[(text, special)]

    def encode_pair(self, context, continuation):
        """lm-eval's TemplateLM._encode_pair (causal): trailing spaces move to the continuation,
        the continuation's ids are those of the whole after the context's."""
        n = len(context) - len(context.rstrip())
        if n:
            continuation = context[-n:] + continuation
            context = context[:-n]
        whole = self.tokenize(context + continuation)
        ctx = self.tokenize(context)
        return ctx, whole[len(ctx):]

    def loglikelihood(self, ids, ctxlen):
        """Sum of log p(ids[j] | ids[:j]) for j >= ctxlen, whether each is the argmax, and the
        argmax after the last token."""
        out = os.path.join(self.scratch, "logits.f32")
        subprocess.run([self.binary, "logits", "-m", self.model, "--tokens",
                        ",".join(map(str, ids)), "--out", out, "-t", str(self.threads)],
                       check=True, capture_output=True)
        logits = np.fromfile(out, dtype=np.float32).reshape(len(ids), -1).astype(np.float64)
        rows = logits[ctxlen - 1:len(ids) - 1]
        mx = rows.max(axis=1, keepdims=True)
        lse = (mx + np.log(np.exp(rows - mx).sum(axis=1, keepdims=True)))[:, 0]
        target = np.array(ids[ctxlen:])
        lp = rows[np.arange(len(target)), target] - lse
        greedy = bool((rows.argmax(axis=1) == target).all())
        return float(lp.sum()), greedy, int(logits[-1].argmax())

    def generate(self, context, n, until):
        out = subprocess.run([self.binary, "run", "-m", self.model, "-f",
                              self._file("prompt.txt", context), "--temp", "0", "-n", str(n),
                              "-t", str(self.threads)],
                             check=True, capture_output=True).stdout.decode("utf-8", "replace")
        assert out.startswith(context) and out.endswith("\n"), out[:200]
        text = out[len(context):-1]
        for s in until:
            if s and s in text:
                text = text[:text.index(s)]
        return text


def first_word(text, pattern, fallback):
    """lm-eval's regex filter (findall, group 0, strip) then take_first."""
    m = re.compile(pattern).findall(text)
    if not m:
        return fallback
    m = m[0]
    if isinstance(m, tuple):
        m = next((x for x in m if x), fallback)
    return m.strip()


def exact_match(pred, ref):
    """lm-eval's exact_match with ignore_case and ignore_punctuation."""
    table = str.maketrans("", "", string.punctuation)
    return float(pred.lower().translate(table) == ref.lower().translate(table))


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "longctx"))
    ap.add_argument("--model", default=None, help="GGUF (default: SmolLM2-135M-Instruct Q4_1 from the assets)")
    ap.add_argument("--slots", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--batch_size", type=int, default=4,
                    help="lm-eval requests per HTTP call (a list of token-id prompts)")
    ap.add_argument("--num_concurrent", type=int, default=2, help="lm-eval's concurrent HTTP calls")
    ap.add_argument("--threads", type=int, default=2, help="threads of the engine-side commands")
    ap.add_argument("--cloze", type=int, default=40)
    ap.add_argument("--nextword", type=int, default=16)
    ap.add_argument("--output_path", default=os.path.join(ROOT, "build", "lm_eval", "output"),
                    help="lm-eval's results and samples")
    ap.add_argument("--json", default=os.path.join(ROOT, "docs", "results", "lm_eval_server.json"))
    ap.add_argument("--tol", type=float, default=1e-3, help="max |loglikelihood difference|")
    a = ap.parse_args()
    model = a.model or serverlib.smollm2()
    if not os.path.exists(a.binary):
        raise SystemExit("%s is absent (build it, or pass --binary)" % a.binary)
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.chdir(ROOT)  # the task YAMLs' data_files are relative to the repository root
    t_start = time.time()

    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "lm_eval", "make_data.py"), DATA_DIR,
                    "--cloze", str(a.cloze), "--nextword", str(a.nextword)], check=True)
    scratch = tempfile.mkdtemp(prefix="lm_eval_server.")
    atexit.register(shutil.rmtree, scratch, True)
    tok_dir = gguf_tokenizer_dir(model, os.path.join(scratch, "tokenizer"))

    try:
        import lm_eval
    except ImportError:
        serverlib.skip("lm-eval is not installed: /usr/bin/python3 -m pip install --break-system-packages "
                       "'lm-eval[api]==0.4.13' 'huggingface-hub>=0.23.2,<1.0' 'datasets>=2.16,<4'")
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.models.openai_completions import LocalCompletionsAPI
    from lm_eval.tasks import TaskManager

    sent = []  # every prompt lm-eval sends: (generate, token ids)
    create_payload = LocalCompletionsAPI._create_payload

    def recording(self, messages, generate=False, gen_kwargs=None, **kw):
        payload = create_payload(self, messages, generate=generate, gen_kwargs=gen_kwargs, **kw)
        prompts = payload["prompt"]
        if not (isinstance(prompts, list) and prompts and isinstance(prompts[0], list)):
            raise SystemExit("lm-eval sent %r, not token-id prompts" % type(prompts))
        for p in prompts:
            sent.append({"generate": generate, "ids": list(p),
                         "payload": {k: v for k, v in payload.items() if k != "prompt"}})
        return payload

    LocalCompletionsAPI._create_payload = recording

    eng = Engine(a.binary, model, a.threads, scratch)
    probe_ctx = eng.tokenize(PROBE[0], special=True)
    probe_cont = eng.tokenize(PROBE[0] + PROBE[1], special=True)[len(probe_ctx):]
    server = serverlib.Server(a.binary, model, "--slots", str(a.slots), "--ctx", str(a.ctx))
    try:
        import urllib.request
        served = json.loads(urllib.request.urlopen(server.url + "/v1/models").read())["data"][0]["id"]
        model_args = {"base_url": server.url + "/v1/completions", "model": served,
                      "tokenizer": tok_dir, "tokenizer_backend": "huggingface",
                      "tokenized_requests": True,
                      "num_concurrent": a.num_concurrent, "max_length": a.ctx, "max_retries": 1,
                      "timeout": 600}
        cli = ("lm_eval --model local-completions --model_args %s --tasks %s --include_path %s "
               "--batch_size %d --log_samples --output_path %s" % (
                   ",".join("%s=%s" % kv for kv in model_args.items()), ",".join(TASKS),
                   os.path.relpath(TASK_DIR, ROOT), a.batch_size, os.path.relpath(a.output_path, ROOT)))
        print("lm-eval, as the CLI would be run:\n  " + cli, flush=True)
        tracker = EvaluationTracker(output_path=a.output_path)
        t0 = time.time()
        results = lm_eval.simple_evaluate(
            model="local-completions", model_args=model_args, tasks=TASKS,
            task_manager=TaskManager(include_path=TASK_DIR), log_samples=True,
            evaluation_tracker=tracker, batch_size=a.batch_size,
            torch_random_seed=None)  # an API model: no torch (whose import only warns here)
        t_lmeval = time.time() - t0
        # The probe: lm-eval's own loglikelihood code on one continuation after which the model's
        # greedy next token is EOS (a chat turn's end).
        n_sent = len(sent)
        probe_lm = LocalCompletionsAPI(**model_args, batch_size=1)
        probe_server = probe_lm._loglikelihood_tokens([(None, probe_ctx, probe_cont)])[0]
        del sent[n_sent:]
    finally:
        rc, log = server.stop()
    if rc != 0:
        print(log)
        raise SystemExit("the server exited %d on SIGTERM" % rc)
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=copy.deepcopy(samples))
    for task in results["configs"]:
        tracker.save_results_samples(task_name=task, samples=copy.deepcopy(samples[task]))

    # -------------------------------------------------------- the engine's own scores
    t0 = time.time()
    probe_ll, probe_greedy, probe_next = eng.loglikelihood(probe_ctx + probe_cont, len(probe_ctx))
    probe = {"context": PROBE[0], "continuation": PROBE[1], "engine_next_token": probe_next,
             "lm_eval": float(probe_server[0]), "engine": probe_ll,
             "abs_diff": abs(float(probe_server[0]) - probe_ll)}
    sent_ll = [s["ids"] for s in sent if not s["generate"]]
    sent_gen = [s["ids"] for s in sent if s["generate"]]

    cloze = sorted(samples["longctx_cloze"], key=lambda s: s["doc_id"])
    per_request, per_doc = [], []
    eng_acc, eng_acc_norm = [], []
    for s in cloze:
        doc = s["doc"]
        lls = []
        for i, (args, resp) in enumerate(zip(s["arguments"], s["resps"])):
            context, continuation = args
            ctx, cont = eng.encode_pair(context, continuation)
            ids = ctx + cont
            ll, greedy, _ = eng.loglikelihood(ids, len(ctx))
            server_ll, server_greedy = float(resp[0][0]), bool(resp[0][1])
            per_request.append({
                "doc": s["doc_id"], "choice": i, "ctx_tokens": len(ctx), "cont_tokens": len(cont),
                "ids_sent_by_lm_eval": ids in sent_ll,
                "lm_eval": server_ll, "engine": ll, "abs_diff": abs(ll - server_ll),
                "greedy_lm_eval": server_greedy, "greedy_engine": greedy})
            lls.append(ll)
        lls = np.array(lls)
        lens = np.array([float(len(c)) for c in doc["choices"]])
        acc, acc_norm = float(np.argmax(lls) == doc["label"]), float(np.argmax(lls / lens) == doc["label"])
        eng_acc.append(acc)
        eng_acc_norm.append(acc_norm)
        per_doc.append({"doc": s["doc_id"], "acc_lm_eval": s["acc"], "acc_engine": acc,
                        "acc_norm_lm_eval": s["acc_norm"], "acc_norm_engine": acc_norm})

    nextword = sorted(samples["longctx_nextword"], key=lambda s: s["doc_id"])
    tcfg = results["configs"]["longctx_nextword"]
    gk = tcfg["generation_kwargs"]
    until = list(gk["until"])
    flt = tcfg["filter_list"][0]["filter"][0]
    generations, eng_em = [], []
    for s in nextword:
        context = s["arguments"][0][0]
        text = eng.generate(context, gk["max_gen_toks"], until)
        word = first_word(text, flt["regex_pattern"], flt["fallback"])
        em = exact_match(word, s["target"])
        eng_em.append(em)
        generations.append({
            "doc": s["doc_id"], "target": s["target"],
            "ids_sent_by_lm_eval": eng.tokenize(context) in sent_gen,
            "lm_eval": s["resps"][0][0], "engine": text, "equal": s["resps"][0][0] == text,
            "first_word_lm_eval": s["filtered_resps"][0], "first_word_engine": word,
            "em_lm_eval": s["exact_match"], "em_engine": em})
    t_engine = time.time() - t0

    # -------------------------------------------------------- compare
    def metric(task, name):
        return results["results"][task]["%s,%s" % (name, "none" if task == "longctx_cloze" else "first_word")]

    rows = [
        ("longctx_cloze", "acc", metric("longctx_cloze", "acc"), float(np.mean(eng_acc))),
        ("longctx_cloze", "acc_norm", metric("longctx_cloze", "acc_norm"), float(np.mean(eng_acc_norm))),
        ("longctx_nextword", "exact_match", metric("longctx_nextword", "exact_match"), float(np.mean(eng_em))),
    ]
    max_diff = max(r["abs_diff"] for r in per_request)
    worst = max(per_request, key=lambda r: r["abs_diff"])
    checks = {
        "every loglikelihood request's ids = the engine's tokenization":
            all(r["ids_sent_by_lm_eval"] for r in per_request),
        "every generation prompt's ids = the engine's tokenization":
            all(g["ids_sent_by_lm_eval"] for g in generations),
        "requests sent = requests scored":
            len(sent_ll) == len(per_request) and len(sent_gen) == len(generations),
        "max |loglikelihood diff| < %g" % a.tol: max_diff < a.tol,
        "is_greedy equal": all(r["greedy_lm_eval"] == r["greedy_engine"] for r in per_request),
        "per-item acc / acc_norm equal": all(d["acc_lm_eval"] == d["acc_engine"] and
                                             d["acc_norm_lm_eval"] == d["acc_norm_engine"] for d in per_doc),
        "generations equal": all(g["equal"] for g in generations),
        "metrics equal": all(l == e for _, _, l, e in rows),
        "probe (EOS greedy after the continuation): |loglikelihood diff| < %g" % a.tol:
            probe["abs_diff"] < a.tol and probe_next in probe_lm.tokenizer.all_special_ids,
    }
    failures = [k for k, ok in checks.items() if not ok]

    print("\n%-18s %-12s %10s %10s" % ("task", "metric", "lm-eval", "engine"))
    for task, name, l, e in rows:
        print("%-18s %-12s %10.4f %10.4f%s" % (task, name, l, e, "" if l == e else "   MISMATCH"))
    print("\n%d loglikelihood requests: max |diff| %.2e (doc %d choice %d: lm-eval %.6f, engine %.6f)" % (
        len(per_request), max_diff, worst["doc"], worst["choice"], worst["lm_eval"], worst["engine"]))
    print("probe with EOS next: lm-eval %.6f, engine %.6f (next token %d)" % (
        probe["lm_eval"], probe["engine"], probe_next))
    print("%d generations, %d equal" % (len(generations), sum(g["equal"] for g in generations)))
    for g in generations:
        if not g["equal"]:
            print("  doc %d: lm-eval %r, engine %r" % (g["doc"], g["lm_eval"], g["engine"]))
    for k, ok in checks.items():
        print("%s %s" % ("PASS" if ok else "FAIL", k))
    t_total = time.time() - t_start
    print("time: lm-eval against the server %.1f s, engine-side scoring %.1f s, all %.1f s" % (
        t_lmeval, t_engine, t_total))

    report = {
        "command": "python3 " + " ".join([os.path.relpath(__file__, ROOT)] + sys.argv[1:]),
        "lm_eval_cli_equivalent": cli,
        "lm_eval_version": lm_eval.__version__ if hasattr(lm_eval, "__version__") else None,
        "model": os.path.basename(model), "served_model_id": served,
        "server_flags": {"slots": a.slots, "ctx": a.ctx},
        "lm_eval_model_args": {k: v for k, v in model_args.items() if k not in ("base_url", "tokenizer")},
        "lm_eval_batch_size": a.batch_size,
        "metrics": [{"task": t, "metric": m, "lm_eval": l, "engine": e} for t, m, l, e in rows],
        "loglikelihood": {"requests": len(per_request), "max_abs_diff": max_diff,
                          "mean_abs_diff": float(np.mean([r["abs_diff"] for r in per_request]))},
        "checks": checks, "pass": not failures,
        "seconds": {"lm_eval": round(t_lmeval, 1), "engine": round(t_engine, 1), "total": round(t_total, 1)},
        "probe_eos_next": probe,
        "per_request": per_request, "per_doc": per_doc, "generations": generations,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(report, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote %s; lm-eval's results and samples under %s" % (a.json, a.output_path))
    print("PASS" if not failures else "FAIL: " + "; ".join(failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
