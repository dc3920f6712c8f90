"""`longctx serve` driven by the official `openai` client (PyPI) on the real SmolLM2-135M-Instruct
GGUF: completions and chat, streamed and not, stop strings, seeds that reproduce, echo/logprobs
equal to `longctx ppl`'s per-token NLL, usage, /v1/models, /metrics, a per-request attention
policy, conversation cache reuse, and a clean SIGTERM shutdown.

usage: openai_client_test.py LONGCTX_BINARY"""
import atexit
import json
import os
import subprocess
import sys
import tempfile

from serverlib import Checks, Server, skip, smollm2

try:
    import openai
except ImportError:
    skip("the openai package is not installed (scripts/setup.sh installs it: pip install openai)")

BIN = os.path.abspath(sys.argv[1])
MODEL = smollm2()
c = Checks()
srv = Server(BIN, MODEL, "--slots", "3", "--ctx", "2048", "-t", "2")
atexit.register(srv.kill)
client = openai.OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0)
name = os.path.basename(MODEL)

# /v1/models
models = client.models.list()
c.check("models lists the served file", [m.id for m in models.data] == [name], str(models))

# Completions, greedy: the same text as `longctx run`.
prompt = "The history of the printing press"
r = client.completions.create(model=name, prompt=prompt, max_tokens=24, temperature=0)
cli = subprocess.run([BIN, "run", "-m", MODEL, "-p", prompt, "--temp", "0", "-n", "24"],
                     capture_output=True, text=True, check=True).stdout
c.check("completion equals longctx run", prompt + r.choices[0].text == cli.rstrip("\n"),
        "%r vs %r" % (prompt + r.choices[0].text, cli))
c.check("completion usage", r.usage.completion_tokens == 24 and r.usage.prompt_tokens > 0 and
        r.choices[0].finish_reason == "length", str(r.usage))

# Streaming gives the same text in pieces, then [DONE] (the client ends the iteration).
pieces = [ch.choices[0].text for ch in client.completions.create(
    model=name, prompt=prompt, max_tokens=24, temperature=0, stream=True)]
c.check("streamed completion equals the whole one", "".join(pieces) == r.choices[0].text and
        len(pieces) >= 10, repr(pieces))

# Chat, greedy, whole and streamed; the same as `longctx run --chat`.
msgs = [{"role": "user", "content": "Name three fruits."}]
chat = client.chat.completions.create(model=name, messages=msgs, max_tokens=40, temperature=0)
text = chat.choices[0].message.content
cli = subprocess.run([BIN, "run", "-m", MODEL, "--chat", "-p", "Name three fruits.", "--temp",
                      "0", "-n", "40"], capture_output=True, text=True, check=True).stdout
c.check("chat equals longctx run --chat", text == cli.rstrip("\n"), "%r vs %r" % (text, cli))
stream = client.chat.completions.create(model=name, messages=msgs, max_tokens=40, temperature=0,
                                        stream=True, stream_options={"include_usage": True})
deltas, roles, finish, usage = [], [], None, None
for ch in stream:
    if ch.usage:
        usage = ch.usage
    for choice in ch.choices:
        if choice.delta.role:
            roles.append(choice.delta.role)
        if choice.delta.content:
            deltas.append(choice.delta.content)
        finish = choice.finish_reason or finish
c.check("streamed chat equals the whole chat", "".join(deltas) == text, repr(deltas))
c.check("streamed chat opens with the assistant role", roles == ["assistant"], str(roles))
c.check("streamed chat usage", usage is not None and
        usage.completion_tokens == chat.usage.completion_tokens, str(usage))
c.check("chat finish reason", finish == chat.choices[0].finish_reason, str(finish))

# Stop strings: cut where the greedy text would have the stop string, which is never returned.
full = client.completions.create(model=name, prompt=prompt, max_tokens=40, temperature=0)
words = full.choices[0].text.split(" ")
stop = " " + words[len(words) // 2]
cut = client.completions.create(model=name, prompt=prompt, max_tokens=40, temperature=0,
                                stop=[stop, "NEVER-APPEARS"])
c.check("stop string ends the text before it", cut.choices[0].text ==
        full.choices[0].text[:full.choices[0].text.index(stop)] and
        cut.choices[0].finish_reason == "stop", "%r / %r" % (cut.choices[0].text, stop))
sp = "".join(ch.choices[0].text for ch in client.completions.create(
    model=name, prompt=prompt, max_tokens=40, temperature=0, stop=[stop], stream=True))
c.check("streamed stop string", sp == cut.choices[0].text, repr(sp))

# Seeds reproduce (sampling at temperature 1), and a different seed differs.
def sample(seed):
    return client.completions.create(model=name, prompt="Once upon a time", max_tokens=32,
                                     temperature=1.0, top_p=0.95, seed=seed).choices[0].text
a, b, d = sample(1234), sample(1234), sample(99)
c.check("the same seed reproduces", a == b, "%r vs %r" % (a, b))
c.check("another seed differs", a != d, repr(a))

# echo + logprobs equal `longctx ppl --bin 1`'s per-position NLL of the same text.
with open(os.path.join(os.path.dirname(MODEL), "..", "corpora", "pride_and_prejudice.txt"),
          errors="replace") as f:
    doc = f.read()[5000:6500]
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "doc.txt")
    with open(path, "w") as f:
        f.write(doc)
    subprocess.run([BIN, "ppl", "-m", MODEL, "-f", path, "--bin", "1", "--json",
                    os.path.join(tmp, "ppl.json")], capture_output=True, check=True)
    with open(os.path.join(tmp, "ppl.json")) as f:
        ppl = json.load(f)
e = client.completions.create(model=name, prompt=doc, max_tokens=0, echo=True, logprobs=1,
                              temperature=0)
lp = e.choices[0].logprobs.token_logprobs
bins = ppl["results"][0]["bins"]  # bin width 1: start[i] is the position, mean_nll its NLL
ours = {i: -x for i, x in enumerate(lp) if x is not None}
scored = [(p, n) for p, n, k in zip(bins["start"], bins["mean_nll"], bins["count"]) if k > 0]
pairs = [(ours[p], n) for p, n in scored if p in ours]
worst = max((abs(a - b) for a, b in pairs), default=1e9)
c.check("echo logprobs equal ppl per-token NLL (%d tokens, max |diff| %.2e)" % (len(pairs), worst),
        len(pairs) == len(ours) == len(scored) and worst < 1e-3,
        "%d pairs, %d scored tokens, %d scored bins" % (len(pairs), len(ours), len(scored)))
c.check("echo returns the prompt text", e.choices[0].text == doc, repr(e.choices[0].text[:40]))
c.check("echo's first token has no logprob", lp[0] is None, str(lp[:3]))
top = e.choices[0].logprobs.top_logprobs
c.check("top_logprobs present and best-first", all(
    t is None or max(t.values()) >= l - 1e-5 for t, l in zip(top[1:], lp[1:])))

# A generation that EOS ends still lists that token last in the logprobs (as OpenAI lists
# "<|endoftext|>"), though not in the text or usage: lm-evaluation-harness scores a continuation
# with echo + max_tokens 1 and drops the last entry as the generated token.
turn = "<|im_start|>user\nSay hi<|im_end|>\n<|im_start|>assistant\nHi! How can I help you today?"
ids = [int(x) for x in subprocess.run([BIN, "tokenize", "-m", MODEL, "--no-bos", "--special", "-p",
                                       turn], capture_output=True, text=True,
                                      check=True).stdout.split(",")]
e = client.completions.create(model=name, prompt=ids, max_tokens=1, echo=True, logprobs=1,
                              temperature=0)
ch = e.choices[0]
c.check("EOS that ends a generation is listed last in logprobs, not in text",
        ch.finish_reason == "stop" and len(ch.logprobs.tokens) == len(ids) + 1 and
        ch.logprobs.tokens[-1] == "<|im_end|>" and ch.logprobs.token_logprobs[-1] < 0 and
        ch.text.endswith("today?") and e.usage.completion_tokens == 0,
        "%s %d ids, %r, %s" % (ch.finish_reason, len(ids), ch.logprobs.tokens[-3:], e.usage))

# A per-request policy: lambda with a small window on a prompt longer than --ctx is accepted,
# full attention refuses it with 400.
long_prompt = doc * 3
try:
    client.completions.create(model=name, prompt=long_prompt * 3, max_tokens=4, temperature=0)
    c.check("a prompt longer than --ctx is refused (400)", False)
except openai.BadRequestError as err:
    c.check("a prompt longer than --ctx is refused (400)",
            err.code == "context_length_exceeded", str(err.body))
lam = client.completions.create(model=name, prompt=long_prompt * 3, max_tokens=4, temperature=0,
                                extra_body={"attention": "lambda:G=4:L=512"})
c.check("attention=lambda streams past --ctx", lam.choices[0].finish_reason == "length" and
        lam.usage.prompt_tokens > 2048, str(lam.usage))

# Conversation reuse: the second turn reuses the first turn's cache.
m0 = srv.metrics()
turn1 = client.chat.completions.create(model=name, messages=msgs, max_tokens=20, temperature=0)
msgs2 = msgs + [{"role": "assistant", "content": turn1.choices[0].message.content},
                {"role": "user", "content": "Which one is red?"}]
turn2 = client.chat.completions.create(model=name, messages=msgs2, max_tokens=20, temperature=0)
cached = turn2.usage.prompt_tokens_details.cached_tokens
c.check("a continued chat reuses the slot's cache (%d of %d prompt tokens)" %
        (cached, turn2.usage.prompt_tokens), cached >= turn1.usage.prompt_tokens, str(turn2.usage))
m1 = srv.metrics()
c.check("metrics count reused tokens", m1["longctx_prompt_tokens_reused_total"] -
        m0["longctx_prompt_tokens_reused_total"] >= cached)
c.check("metrics: state bytes, slots, generated tokens", m1["longctx_slots"] == 3 and
        m1["longctx_state_bytes"] > 0 and m1["longctx_generated_tokens_total"] > 100 and
        m1['longctx_http_requests_total{endpoint="/v1/completions",status="200"}'] >= 8)
# SmolLM2: 30 layers x 3 kv heads x 64 x (key + value), f32 by default.
# The default cache is bf16: 2 bytes per value.
c.check("metrics: KV bytes per token", m1["longctx_kv_bytes_per_token"] == 30 * 3 * 64 * 2 * 2,
        str(m1.get("longctx_kv_bytes_per_token")))

code, log = srv.stop()
c.check("SIGTERM exits 0", code == 0, log[-500:])

# A q4 KV cache (--kv-type, KIVI): the same client, the type in the model's meta and in /metrics.
srv = Server(BIN, MODEL, "--slots", "1", "--ctx", "1024", "-t", "2", "--kv-type", "q4")
client = openai.OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0)
meta = client.models.list().data[0].model_extra["meta"]
c.check("--kv-type q4: the attention label says so", "+kv(q4)" in meta["attention"], str(meta))
r = client.completions.create(model=name, prompt="The capital of France is", max_tokens=8,
                              temperature=0)
c.check("--kv-type q4: a completion", r.usage.completion_tokens >= 1 and
        r.choices[0].text.strip() != "", str(r))
c.check("--kv-type q4: 20 bytes per 32 keys and per 32 values in /metrics",
        srv.metrics()["longctx_kv_bytes_per_token"] == 30 * 3 * 40 * 2)
code, log = srv.stop()
c.check("SIGTERM exits 0 (q4 server)", code == 0, log[-500:])
c.finish()
