"""The binding against the CLI on the embedded default model (models/default): greedy and sampled
generation token for token, batched generation, logits, per-token NLL, tokenization; the errors;
the GIL released during compute."""
import json
import os
import threading
import time

import numpy as np
import pytest

import longctx
from conftest import cli, logits_nll

PROMPTS = ["Once upon a time", "The old man said to the boy, \""]


@pytest.fixture(scope="module")
def model(default_model_path):
    return longctx.Model(default_model_path, threads=2)


def ids_of(out):
    return [int(x) for x in out.decode().strip().split(",") if x]


@pytest.mark.parametrize("attention", ["full", "lambda", "streaming:G=4:W=64"])
@pytest.mark.parametrize("prompt", PROMPTS)
def test_greedy_generation_equals_cli(model, default_model_path, prompt, attention):
    want = ids_of(cli("run", "-m", default_model_path, "-p", prompt, "-n", 300, "--temp", 0,
                      "--ids", "--attn", attention))
    s = model.generate(prompt, max_tokens=300, temperature=0, attention=attention)
    text = "".join(s)
    assert s.tokens == want
    n_prompt = len(model.tokenize(prompt))
    full_cache = attention == "full" and n_prompt + len(want) >= model.ctx_len
    assert s.finish_reason == ("length" if len(want) == 300 else
                               "context" if full_cache else "stop")
    assert len(text) > 0


def test_sampled_generation_equals_cli(model, default_model_path):
    for seed in (1, 7):
        want = ids_of(cli("run", "-m", default_model_path, "-p", PROMPTS[0], "-n", 64, "--temp",
                          0.8, "--top-k", 40, "--top-p", 0.9, "--seed", seed, "--ids"))
        s = model.generate(PROMPTS[0], max_tokens=64, temperature=0.8, top_k=40, top_p=0.9,
                           seed=seed)
        list(s)
        assert s.tokens == want


def test_generation_text_equals_cli(model, default_model_path):
    out = cli("run", "-m", default_model_path, "-p", PROMPTS[1], "-n", 80, "--temp", 0)
    assert (PROMPTS[1] + "".join(model.generate(PROMPTS[1], max_tokens=80, temperature=0))
            + "\n").encode() == out


def test_batch_equals_cli(model, default_model_path):
    out = cli("run", "-m", default_model_path, "-p", PROMPTS[0], "-n", 40, "--temp", 0.7,
              "--seed", 3, "--batch", 3).decode()
    want = [c.split(" ---\n", 1)[1][len(PROMPTS[0]):-1] for c in out.split("--- sequence ")[1:]]
    assert len(want) == 3
    got = model.generate_batch([PROMPTS[0]] * 3, max_tokens=40, temperature=0.7, seed=3)
    assert got == want


def test_batch_of_different_prompts_equals_each_alone(model):
    got = model.generate_batch(PROMPTS, max_tokens=30, temperature=0)
    alone = ["".join(model.generate(p, max_tokens=30, temperature=0)) for p in PROMPTS]
    assert got == alone


def test_stop_strings_and_utf8(model):
    full = "".join(model.generate(PROMPTS[0], max_tokens=60, temperature=0))
    stop = full[10:14]
    s = model.generate(PROMPTS[0], max_tokens=60, temperature=0, stop=[stop])
    text = "".join(s)
    assert text == full[:full.index(stop)] and s.finish_reason == "stop"
    # A byte-level model splits multi-byte characters over tokens: the pieces are whole text.
    pieces = list(model.generate("Caf\u00e9 \u00e9t\u00e9 \u4e16\u754c", max_tokens=40,
                                 temperature=1.0, seed=5))
    assert all(isinstance(p, str) for p in pieces)


def test_logits_equal_cli(model, default_model_path, tmp_path):
    ids = model.tokenize(PROMPTS[1])
    out = tmp_path / "logits.f32"
    cli("logits", "-m", default_model_path, "--tokens", ",".join(map(str, ids)), "--out", out)
    want = np.fromfile(out, dtype=np.float32).reshape(len(ids), model.vocab_size)
    got = model.logits(ids)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    last = model.logits(ids, last=5)
    np.testing.assert_allclose(last, want[-5:], rtol=0, atol=1e-4)


def test_score_equals_cli_ppl_and_logits(model, default_model_path, book_path, tmp_path):
    text = open(book_path, encoding="utf-8").read()[:3000]
    doc = tmp_path / "doc.txt"
    doc.write_text(text, encoding="utf-8")
    for attention in ("full", "lambda"):
        nll = model.score(text, attention=attention)
        ids = model.tokenize(text)
        assert nll.shape == (len(ids) - 1,) and nll.dtype == np.float64
        js = tmp_path / "ppl.json"
        cli("ppl", "-m", default_model_path, "-f", doc, "--attn", attention, "--json", js)
        r = json.load(open(js))["results"][0]
        assert r["positions_scored"] == len(nll)
        assert abs(nll.mean() - r["mean_nll"]) <= 1e-7 * abs(r["mean_nll"])
        bins = r["bins"]
        for b, (mean, count) in enumerate(zip(bins["mean_nll"], bins["count"])):
            lo = max(1, b * 128)
            assert count == len(nll[lo - 1:(b + 1) * 128 - 1])
            assert abs(nll[lo - 1:(b + 1) * 128 - 1].mean() - mean) <= 1e-6 * abs(mean)
    # Independently, from the CLI's logits (full attention within the trained context).
    ids = model.tokenize(text)[:200]
    out = tmp_path / "logits.f32"
    cli("logits", "-m", default_model_path, "--tokens", ",".join(map(str, ids)), "--out", out)
    np.testing.assert_allclose(model.score(ids), logits_nll(out, ids), rtol=0, atol=1e-4)


def test_tokenize_equals_cli(model, default_model_path):
    text = "Hello, world! \u00e9\u4e16 12345"
    want = ids_of(cli("tokenize", "-m", default_model_path, "-p", text))
    assert model.tokenize(text) == want
    assert model.tokenize(text, bos=False) == want[1:]
    assert model.detokenize(want) == text


def test_properties(model, default_model_path):
    assert model.path == default_model_path and model.arch == "llama"
    assert model.ctx_len == 256 and model.vocab_size == 257 and model.threads == 2
    assert "longctx.Model" in repr(model)


def test_errors(default_model_path, model, tmp_path):
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        longctx.Model(str(tmp_path / "does-not-exist.gguf"))
    with pytest.raises(ValueError, match="dtype"):
        longctx.Model(default_model_path, dtype="f33")
    with pytest.raises(ValueError, match="threads"):
        longctx.Model(default_model_path, threads=0)
    bad = tmp_path / "garbage.gguf"
    bad.write_bytes(b"GGUF" + b"\xff" * 60)
    with pytest.raises(longctx.Error) as e:
        longctx.Model(str(bad))
    assert str(bad) in str(e.value) or "GGUF" in str(e.value)
    assert isinstance(e.value, RuntimeError)
    for policy in ("lamda", "lambda:Q=3", "streaming:G=-1", "full,lambda"):
        with pytest.raises(ValueError, match="attention"):
            model.score([1, 2, 3], attention=policy)
        with pytest.raises(ValueError, match="attention"):
            model.generate("x", attention=policy)
    with pytest.raises(ValueError, match="out of range"):
        model.logits([1, 99999])
    with pytest.raises(ValueError, match="at least 2"):
        model.score([5])
    with pytest.raises(ValueError, match="top_p"):
        model.generate("x", top_p=0)
    with pytest.raises(ValueError, match="last"):
        model.logits([1, 2], last=3)
    with pytest.raises(TypeError):
        model.generate(3.5)
    with pytest.raises(ValueError, match="no chat template"):
        model.chat([{"role": "user", "content": "hi"}])


def test_based_model_refuses_a_policy():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "models", "default-based")
    m = longctx.Model(path)
    assert not m.takes_attention
    assert len(m.score("Once upon a time")) > 0
    with pytest.raises(ValueError, match="do not apply"):
        m.score("Once upon a time", attention="lambda")


def test_stream_keeps_its_model_alive(default_model_path):
    s = longctx.Model(default_model_path).generate(PROMPTS[0], max_tokens=20, temperature=0)
    import gc
    gc.collect()
    assert len("".join(s)) > 0


def test_gil_released_during_score(model, book_path):
    text = open(book_path, encoding="utf-8").read()[:60000]
    ids = model.tokenize(text)
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    time.sleep(0.05)
    t0 = time.perf_counter()
    model.score(ids, attention="lambda")
    t1 = time.perf_counter()
    stop.set()
    t.join()
    during = [x for x in ticks if t0 <= x <= t1]
    assert t1 - t0 > 0.2, "the score call was too short to tell (%.3f s)" % (t1 - t0)
    # A held GIL would let the counter run at most once per switch interval (5 ms) -- in fact
    # not at all, since the call never yields; released, it ticks about every millisecond.
    assert len(during) > 0.3 * (t1 - t0) / 0.001, (len(during), t1 - t0)


def test_concurrent_calls_on_one_model_equal_sequential_ones(model, book_path):
    text = open(book_path, encoding="utf-8").read()
    docs = [text[i * 5000:(i + 1) * 5000] for i in range(4)]
    want = [model.score(d, attention="lambda") for d in docs]
    gens = ["".join(model.generate(d[:200], max_tokens=30, temperature=0)) for d in docs]
    got, got_gens = [None] * 4, [None] * 4

    def work(i):
        got[i] = model.score(docs[i], attention="lambda")
        got_gens[i] = "".join(model.generate(docs[i][:200], max_tokens=30, temperature=0))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w, g in zip(want, got):
        np.testing.assert_array_equal(w, g)
    assert got_gens == gens
