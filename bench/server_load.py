"""Bounded load test of `longctx serve` on loopback (docs/perf/server.md).

For each concurrency level C (default 1, 4, 16, 64), C streaming clients each send R requests one
after another (/v1/completions, stream: true, sampled with a fixed per-request seed). Every
request is one of a fixed set (distinct prompt + seed), so each stream can be checked against
the same request run alone on an idle server: no lost or duplicated tokens means equal text.
Reported per level: errors, mismatches, p50/p99 time to first token, p50/p99 inter-token
latency, aggregate decode tokens/s; and the ratio of aggregate decode at 16 clients to a single
stream (target >= 4 on 2 threads).

--chat-turns N adds a long conversation (chat completions, each turn re-sending the whole
history, as OpenAI clients do) under a bounded policy, sampling the server's resident memory
from /metrics: it must stay flat once the cache is full.

--llama-cpp runs the same load against llama-cpp-python's server (PyPI llama-cpp-python[server],
outside the repository) on the same GGUF for comparison (its own sampling: no equality check).

usage: bench/server_load.py [--bin build/longctx] [--model GGUF] [--levels 1,4,16,64]
                            [--requests R] [--max-tokens N] [--chat-turns N] [--llama-cpp]
                            [--json OUT]"""
import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORDS = ("river mountain letter garden winter castle engine music forest window candle harbor "
         "silver morning island market painter doctor ocean village").split()


def prompt_for(i):
    """A distinct prompt per request index (about 20 tokens)."""
    w = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(4)]
    return "Write a short story about a %s, a %s, a %s and a %s. It begins:" % tuple(w)


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100.0 * (len(xs) - 1))))]


class Server:
    def __init__(self, cmd, port_re, ready_path, env=None):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, env=env)
        self.port = None
        log = []
        deadline = time.time() + 180
        while time.time() < deadline and self.port is None:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError("server exited: " + "".join(log))
            log.append(line)
            m = re.search(port_re, line)
            if m:
                self.port = int(m.group(1))
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()  # drain
        for _ in range(600):
            try:
                urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, ready_path), timeout=5)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server never became ready")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9


def stream_request(port, body, model, extra=None):
    """One streaming completion; returns (text, ttft, [inter-token gaps], tokens, error)."""
    t0 = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.request("POST", "/v1/completions",
                     body=json.dumps(dict(body, stream=True, model=model, **(extra or {}))),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        if r.status != 200:
            return None, None, [], 0, "HTTP %d %s" % (r.status, r.read()[:200])
        text, times = "", []
        for line in r:
            line = line.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            ev = json.loads(line[6:])
            if "error" in ev:
                return None, None, [], 0, str(ev["error"])
            piece = ev["choices"][0].get("text", "")
            if piece:
                times.append(time.perf_counter())
                text += piece
        conn.close()
    except (OSError, http.client.HTTPException, ValueError) as e:
        return None, None, [], 0, repr(e)
    ttft = times[0] - t0 if times else None
    gaps = [b - a for a, b in zip(times, times[1:])]
    return text, ttft, gaps, len(times), None


def run_level(port, model, clients, requests, max_tokens, offset, extra=None):
    results = [[] for _ in range(clients)]

    def client(c):
        for r in range(requests):
            i = offset + c * requests + r
            body = {"prompt": prompt_for(i), "max_tokens": max_tokens, "temperature": 0.8,
                    "top_p": 0.95, "seed": 1000 + i}
            results[c].append((i, body) + stream_request(port, body, model, extra))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    flat = [x for r in results for x in r]
    return flat, wall


def summarize(flat, wall, clients, reference):
    errors = [x for x in flat if x[6] is not None]
    ttft = [x[3] for x in flat if x[3] is not None]
    gaps = [g for x in flat for g in x[4]]
    pieces = sum(x[5] for x in flat)
    mism = None
    if reference is not None:
        mism = sum(1 for x in flat if x[6] is None and reference.get(x[0]) != x[2])
    ms = lambda v: None if v is None else round(v * 1000, 1)
    return {"clients": clients, "requests": len(flat), "errors": len(errors),
            "error_samples": [x[6] for x in errors[:3]], "mismatches": mism,
            "wall_s": round(wall, 2), "stream_events": pieces,
            "aggregate_events_per_s": round(pieces / wall, 1),
            "ttft_ms": {"p50": ms(pct(ttft, 50)), "p99": ms(pct(ttft, 99))},
            "itl_ms": {"p50": ms(pct(gaps, 50)), "p99": ms(pct(gaps, 99))}}


def metric(port, name):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def chat_turns(port, model, turns, attention, max_tokens):
    msgs, rss, cached, fails = [], [], [], 0
    for t in range(turns):
        msgs.append({"role": "user", "content": "Turn %d: tell me one more thing about %s." %
                     (t, WORDS[t % len(WORDS)])})
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        body = {"model": model, "messages": msgs, "max_tokens": max_tokens, "temperature": 0,
                "attention": attention}
        conn.request("POST", "/v1/chat/completions", body=json.dumps(body),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        out = json.loads(r.read())
        conn.close()
        if r.status != 200:
            fails += 1
            msgs.pop()
            continue
        msgs.append({"role": "assistant", "content": out["choices"][0]["message"]["content"]})
        cached.append((out["usage"]["prompt_tokens"], out["usage"]["prompt_tokens_details"]["cached_tokens"]))
        if t % 25 == 0 or t == turns - 1:
            rss.append((t, out["usage"]["prompt_tokens"],
                        metric(port, "longctx_resident_memory_bytes") / 2**20))
            print("  turn %4d: conversation %6d tokens, reused %6d, RSS %.1f MiB" %
                  (t, cached[-1][0], cached[-1][1], rss[-1][2]), flush=True)
    return {"turns": turns, "failed_turns": fails, "attention": attention,
            "rss_mib": rss, "final_conversation_tokens": cached[-1][0] if cached else 0,
            "turns_with_reuse": sum(1 for p, c in cached if c > 0)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "longctx"))
    ap.add_argument("--model", default=os.path.join(ROOT, "..", "shared", "assets", "real_models",
                                                    "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--levels", default="1,4,16,64")
    ap.add_argument("--requests", type=int, default=2, help="requests per client")
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--attn", default="lambda:L=1024", help="the server's policy")
    ap.add_argument("--chat-turns", type=int, default=0)
    ap.add_argument("--chat-attention", default="lambda:G=4:L=1024")
    ap.add_argument("--llama-cpp", action="store_true")
    ap.add_argument("--skip-longctx", action="store_true", help="only the llama.cpp side")
    ap.add_argument("--json")
    a = ap.parse_args()
    levels = [int(x) for x in a.levels.split(",")]
    slots = max(levels)
    model = os.path.basename(a.model)
    out = {"command": " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]),
           "model": model, "threads": a.threads, "max_tokens": a.max_tokens,
           "requests_per_client": a.requests, "server_attention": a.attn, "slots": slots}
    n_req = sum(c * a.requests for c in levels)

    if not a.skip_longctx:
        srv = Server([a.bin, "serve", "-m", a.model, "--port", "0", "--slots", str(slots), "-t",
                      str(a.threads), "--attn", a.attn, "--max-queue", "256"],
                     r"http://127\.0\.0\.1:(\d+)", "/health")
        # Reference: every request alone on the idle server (one stream at a time).
        print("reference: %d requests alone" % n_req, flush=True)
        reference = {}
        for i in range(n_req):
            body = {"prompt": prompt_for(i), "max_tokens": a.max_tokens, "temperature": 0.8,
                    "top_p": 0.95, "seed": 1000 + i}
            reference[i] = stream_request(srv.port, body, model)[0]
        out["longctx"] = []
        offset = 0
        for c in levels:
            flat, wall = run_level(srv.port, model, c, a.requests, a.max_tokens, offset)
            offset += c * a.requests
            s = summarize(flat, wall, c, reference)
            out["longctx"].append(s)
            print("longctx  %3d clients: %s" % (c, json.dumps(s)), flush=True)
        by = {s["clients"]: s for s in out["longctx"]}
        if 1 in by and 16 in by:
            out["speedup_16_vs_1"] = round(by[16]["aggregate_events_per_s"] /
                                           by[1]["aggregate_events_per_s"], 2)
            print("aggregate decode, 16 clients / 1 client: %.2fx (target >= 4)" % out["speedup_16_vs_1"])
        if a.chat_turns:
            print("chat: %d turns, attention %s" % (a.chat_turns, a.chat_attention), flush=True)
            out["chat"] = chat_turns(srv.port, model, a.chat_turns, a.chat_attention, 8)
        out["longctx_exit_code"] = srv.stop()

    if a.llama_cpp:
        env = dict(os.environ)
        srv = Server([sys.executable, "-m", "llama_cpp.server", "--model", a.model, "--host",
                      "127.0.0.1", "--port", str(18000 + os.getpid() % 1000), "--n_threads",
                      str(a.threads), "--n_ctx", "2048", "--interrupt_requests", "False"],
                     r"Uvicorn running on http://[^:]+:(\d+)", "/v1/models", env=env)
        out["llama_cpp"] = []
        offset = 0
        for c in levels:
            # EOS and <|im_end|> banned so that its streams run to max_tokens like ours do
            # (SmolLM2's ids 0 and 2; llama-cpp-python adds BOS to a completion prompt).
            flat, wall = run_level(srv.port, model, c, a.requests, a.max_tokens, offset,
                                   {"logit_bias": {"0": -100, "2": -100}})
            offset += c * a.requests
            s = summarize(flat, wall, c, None)
            out["llama_cpp"].append(s)
            print("llama.cpp %3d clients: %s" % (c, json.dumps(s)), flush=True)
        srv.stop()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    bad = sum(s["errors"] + (s["mismatches"] or 0) for s in out.get("longctx", []))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
