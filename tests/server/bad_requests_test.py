"""A catalogue of bad requests against `longctx serve` (real SmolLM2 GGUF), each answered with
the right HTTP status and an OpenAI-shaped JSON error, while two good streams run alongside and
must come out exactly as the same requests run alone. Also: a full queue (429 + Retry-After), a
client that disconnects mid-stream (its slot is freed), slow partial headers (dropped after
--read-timeout), and a clean SIGTERM.

usage: bad_requests_test.py LONGCTX_BINARY"""
import atexit
import http.client
import json
import socket
import sys
import threading
import time

from serverlib import Checks, Server, smollm2

BIN = sys.argv[1]
MODEL = smollm2()
KEY = "sk-test-0123456789"
c = Checks()
# f32 cache: the two good streams below (seeds 11 and 12) then run long (> 100 characters, which
# their check asks); under the default bf16 cache one ends early.
srv = Server(BIN, MODEL, "--slots", "2", "--max-queue", "1", "--ctx", "1024", "--api-key", KEY,
             "--max-body", "1048576", "--read-timeout", "1", "-t", "2", "--kv-type", "f32")
atexit.register(srv.kill)
AUTH = {"Authorization": "Bearer " + KEY, "Content-Type": "application/json"}


def request(method, path, body=None, headers=AUTH, timeout=120):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    conn.request(method, path, body=data, headers=headers)
    r = conn.getresponse()
    raw = r.read()
    conn.close()
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    return r.status, parsed, dict(r.getheaders())


def stream(body):
    """Runs a streaming completion; returns the concatenated text."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=300)
    conn.request("POST", "/v1/completions", body=json.dumps(dict(body, stream=True)), headers=AUTH)
    r = conn.getresponse()
    text = ""
    for line in r:
        line = line.decode().strip()
        if line.startswith("data: ") and line != "data: [DONE]":
            text += json.loads(line[6:])["choices"][0]["text"]
    conn.close()
    return text


# Two good streams, run while the catalogue below is sent.
GOOD = [{"prompt": "The old lighthouse keeper", "max_tokens": 160, "temperature": 0.8, "seed": 11},
        {"prompt": "In the beginning of the", "max_tokens": 160, "temperature": 0.8, "seed": 12}]
results = [None, None]


def run_good(i):
    results[i] = stream(GOOD[i])


threads = [threading.Thread(target=run_good, args=(i,)) for i in range(2)]
for t in threads:
    t.start()
time.sleep(0.5)

CASES = [
    # (name, method, path, body, headers, status)
    ("malformed JSON", "POST", "/v1/completions", b'{"prompt": ', AUTH, 400),
    ("empty body", "POST", "/v1/completions", b"", AUTH, 400),
    ("body is an array", "POST", "/v1/completions", [1, 2], AUTH, 400),
    ("prompt of a wrong type", "POST", "/v1/completions", {"prompt": 5}, AUTH, 400),
    ("missing prompt", "POST", "/v1/completions", {"max_tokens": 3}, AUTH, 400),
    ("max_tokens a string", "POST", "/v1/completions", {"prompt": "a", "max_tokens": "3"}, AUTH, 400),
    ("max_tokens negative", "POST", "/v1/completions", {"prompt": "a", "max_tokens": -1}, AUTH, 400),
    ("max_tokens huge", "POST", "/v1/completions", {"prompt": "a", "max_tokens": 10**12}, AUTH, 400),
    ("max_tokens 1e308", "POST", "/v1/completions", b'{"prompt": "a", "max_tokens": 1e308}', AUTH, 400),
    ("a number beyond double", "POST", "/v1/completions", b'{"prompt": "a", "seed": 1e400}', AUTH, 400),
    ("temperature negative", "POST", "/v1/completions", {"prompt": "a", "temperature": -1}, AUTH, 400),
    ("top_p zero", "POST", "/v1/completions", {"prompt": "a", "top_p": 0}, AUTH, 400),
    ("n = 3", "POST", "/v1/completions", {"prompt": "a", "n": 3}, AUTH, 400),
    ("stop of a wrong type", "POST", "/v1/completions", {"prompt": "a", "stop": 7}, AUTH, 400),
    ("logprobs out of range", "POST", "/v1/completions", {"prompt": "a", "logprobs": 1000}, AUTH, 400),
    ("token id outside the vocabulary", "POST", "/v1/completions", {"prompt": [5, 999999]}, AUTH, 400),
    ("negative token id", "POST", "/v1/completions", {"prompt": [-5]}, AUTH, 400),
    ("two streamed prompts", "POST", "/v1/completions", {"prompt": ["a", "b"], "stream": True}, AUTH, 400),
    ("presence_penalty", "POST", "/v1/completions", {"prompt": "a", "presence_penalty": 1}, AUTH, 400),
    ("tools", "POST", "/v1/chat/completions",
     {"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}, AUTH, 400),
    ("empty messages", "POST", "/v1/chat/completions", {"messages": []}, AUTH, 400),
    ("unknown role", "POST", "/v1/chat/completions",
     {"messages": [{"role": "wizard", "content": "x"}]}, AUTH, 400),
    ("content of a wrong type", "POST", "/v1/chat/completions",
     {"messages": [{"role": "user", "content": 12}]}, AUTH, 400),
    ("invalid UTF-8", "POST", "/v1/completions", b'{"prompt": "\xff\xfe bad"}', AUTH, 400),
    ("deeply nested JSON", "POST", "/v1/completions", b"[" * 100000 + b"]" * 100000, AUTH, 400),
    ("unknown model", "POST", "/v1/completions", {"model": "gpt-9", "prompt": "a"}, AUTH, 404),
    ("bad attention string", "POST", "/v1/completions", {"prompt": "a", "attention": "lambda:Q=3"}, AUTH, 400),
    ("unknown attention policy", "POST", "/v1/completions", {"prompt": "a", "attention": "bogus"}, AUTH, 400),
    ("two attention policies", "POST", "/v1/completions", {"prompt": "a", "attention": "full,lambda"}, AUTH, 400),
    ("prompt past --ctx", "POST", "/v1/completions", {"prompt": "word " * 3000}, AUTH, 400),
    ("wrong API key", "POST", "/v1/completions", {"prompt": "a"},
     {"Authorization": "Bearer sk-wrong", "Content-Type": "application/json"}, 401),
    ("missing API key", "POST", "/v1/completions", {"prompt": "a"}, {"Content-Type": "application/json"}, 401),
    ("wrong key on /metrics", "GET", "/metrics", None, {"Authorization": "Bearer x"}, 401),
    ("10 MB body", "POST", "/v1/completions", b'{"prompt": "' + b"a" * (10 << 20) + b'"}', AUTH, 413),
    ("unknown endpoint", "POST", "/v1/embeddings", {"input": "a"}, AUTH, 404),
    ("GET on a POST endpoint", "GET", "/v1/completions", None, AUTH, 404),
]
for name, method, path, body, headers, want in CASES:
    try:
        status, err, _ = request(method, path, body, headers)
    except (ConnectionError, http.client.HTTPException) as e:
        c.check(name, False, "connection error %r" % e)
        continue
    shaped = isinstance(err, dict) and isinstance(err.get("error"), dict) and \
        isinstance(err["error"].get("message"), str) and isinstance(err["error"].get("type"), str)
    c.check("%s -> %d" % (name, want), status == want and shaped,
            "got %d %s" % (status, json.dumps(err)[:300]))

# A full queue: two streams hold both slots, one request waits, the next is refused. The good
# streams above may already have ended (sampled text can stop early), so the slots are held by
# two greedy streams that count (400 tokens, no end of text in sight), started once they are done.
for t in threads:
    t.join()
HOLD = {"prompt": "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,", "max_tokens": 400, "temperature": 0}
holders = [threading.Thread(target=stream, args=(HOLD,)) for _ in range(2)]
for t in holders:
    t.start()


def wait_metric(name, at_least):
    deadline = time.time() + 30
    while time.time() < deadline and srv.metrics(KEY)[name] < at_least:
        time.sleep(0.05)


wait_metric("longctx_slots_busy", 2)
waiting = threading.Thread(target=request, args=("POST", "/v1/completions",
                                                 {"prompt": "x", "max_tokens": 2}))
waiting.start()
wait_metric("longctx_queue_length", 1)
m = srv.metrics(KEY)
c.check("one request queued behind the two streams",
        m["longctx_queue_length"] == 1 and m["longctx_slots_busy"] == 2, str(m))
status, err, hdrs = request("POST", "/v1/completions", {"prompt": "y", "max_tokens": 2})
c.check("queue full -> 429 with Retry-After", status == 429 and "Retry-After" in hdrs,
        "got %d %s" % (status, err))
for t in holders:
    t.join()
waiting.join()

# Slow partial headers: the server drops the connection after --read-timeout (1 s).
sock = socket.create_connection(("127.0.0.1", srv.port))
sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n")
t0 = time.time()
sock.settimeout(30)
try:
    rest = sock.recv(4096)
    while rest:
        rest = sock.recv(4096)
    dropped = True
except socket.timeout:
    dropped = False
sock.close()
c.check("slow partial headers are dropped after the read timeout (%.1f s)" % (time.time() - t0),
        dropped and time.time() - t0 < 10)

# A client that disconnects mid-stream: its job is cancelled at the next token. The request is
# the greedy counting one (900 tokens, no end of text in sight): a sampled story can end by
# itself within a few tokens (about 1 in 5 do within 20), before the server has noticed the
# client is gone, which made this check race on a loaded machine.
m0 = srv.metrics(KEY)
sock = socket.create_connection(("127.0.0.1", srv.port))
body = json.dumps(dict(HOLD, max_tokens=900, stream=True))
sock.sendall(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
              "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" %
              (KEY, len(body), body)).encode())
sock.settimeout(60)
got = b""
while b"data: " not in got:
    piece = sock.recv(4096)
    if not piece:
        break
    got += piece
sock.close()
deadline = time.time() + 60
while time.time() < deadline:
    m1 = srv.metrics(KEY)
    if m1['longctx_jobs_total{finish="cancelled"}'] > m0['longctx_jobs_total{finish="cancelled"}']:
        break
    time.sleep(0.2)
moved = {k: m1[k] - m0[k] for k in m1 if k.startswith("longctx_jobs_total") and m1[k] != m0[k]}
c.check("disconnect mid-stream cancels the job",
        m1['longctx_jobs_total{finish="cancelled"}'] == m0['longctx_jobs_total{finish="cancelled"}'] + 1
        and b"[DONE]" not in got, "jobs ended meanwhile: %s; read before closing: %r" % (moved, got[-300:]))

# The good streams are unharmed: each equals the same request run alone (non-streamed).
for i, g in enumerate(GOOD):
    status, alone, _ = request("POST", "/v1/completions", g)
    c.check("good stream %d equals the request alone" % i,
            status == 200 and results[i] == alone["choices"][0]["text"] and len(results[i]) > 100,
            "%r vs %r" % (results[i], alone))
m = srv.metrics(KEY)
c.check("no slot leaked", m["longctx_slots_busy"] == 0 and m["longctx_queue_length"] == 0, str(m))
status, _, _ = request("GET", "/health", None, {})
c.check("health without a key still answers", status == 200)
code, log = srv.stop()
c.check("SIGTERM exits 0", code == 0, log[-500:])
c.finish()
