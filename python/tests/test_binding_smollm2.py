"""The binding against the CLI on the real SmolLM2-135M-Instruct Q4_1 GGUF of ../shared/assets:
greedy generation token for token (full, lambda), per-token NLL (against `longctx ppl` and
against `longctx logits`), tokenization, chat special tokens."""
import json

import numpy as np
import pytest

import longctx
from conftest import cli, logits_nll

PROMPT = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def model(smollm2_path):
    return longctx.Model(smollm2_path, threads=2)


def ids_of(out):
    return [int(x) for x in out.decode().strip().split(",") if x]


@pytest.mark.parametrize("attention", ["full", "lambda"])
def test_greedy_generation_equals_cli(model, smollm2_path, attention):
    for prompt, special in ((PROMPT, True), ("The history of the Roman Empire", False)):
        args = ["run", "-m", smollm2_path, "-p", prompt, "-n", 48, "--temp", 0, "--ids",
                "--attn", attention] + (["--special"] if special else [])
        want = ids_of(cli(*args))
        s = model.generate(prompt, max_tokens=48, temperature=0, attention=attention,
                           special=special)
        text = "".join(s)
        assert s.tokens == want and len(want) > 3
        if special:
            assert "Paris" in text


def test_score_equals_cli(model, smollm2_path, book_path, tmp_path):
    text = open(book_path, encoding="utf-8").read()[20000:26000]
    doc = tmp_path / "doc.txt"
    doc.write_text(text, encoding="utf-8")
    ids = model.tokenize(text)
    for attention in ("full", "lambda:L=512"):
        nll = model.score(text, attention=attention)
        assert nll.shape == (len(ids) - 1,)
        js = tmp_path / "ppl.json"
        cli("ppl", "-m", smollm2_path, "-f", doc, "--attn", attention, "--json", js)
        r = json.load(open(js))["results"][0]
        assert r["positions_scored"] == len(nll)
        assert abs(nll.mean() - r["mean_nll"]) <= 1e-7 * abs(r["mean_nll"])
    out = tmp_path / "logits.f32"
    head = ids[:300]
    cli("logits", "-m", smollm2_path, "--tokens", ",".join(map(str, head)), "--out", out)
    np.testing.assert_allclose(model.score(head), logits_nll(out, head), rtol=0, atol=2e-4)


def test_kv_cache_types(model, book_path):
    # The cache's element types through the attention string: the same tokens scored with the
    # cache in bf16 / f16 / q8_0 / q4 stay close to f32 (docs/results/kv_precision.md has the
    # long runs; the bounds are issue 22's); bf16 is the default; a type the cache cannot hold is
    # a clear error.
    text = open(book_path, encoding="utf-8").read()[20000:23000]
    base = model.score(text, attention="lambda:L=256:kv=f32")
    assert np.array_equal(model.score(text, attention="lambda:L=256"),
                          model.score(text, attention="lambda:L=256:kv=bf16"))
    for kv, tol in (("bf16", 0.002), ("f16", 0.002), ("q8_0", 0.005), ("q4", 0.03)):
        nll = model.score(text, attention="lambda:L=256:kv=" + kv)
        assert nll.shape == base.shape
        assert abs(nll.mean() - base.mean()) <= tol * base.mean(), kv
        assert not np.array_equal(nll, base), kv  # the type is really used
    with pytest.raises(ValueError, match="expected one of f32, bf16, f16, q8_0"):
        model.score(text, attention="lambda:kv=q4_0")


def test_tokenize_equals_cli(model, smollm2_path):
    for text in ("Hello, world! caf\u00e9 \u4e16\u754c 12345", "  leading spaces\n\nand newlines"):
        assert model.tokenize(text) == ids_of(cli("tokenize", "-m", smollm2_path, "-p", text))
        assert model.detokenize(model.tokenize(text)) == text
    assert model.tokenize("<|im_start|>", special=True) == [1]
    assert model.tokenize("<|im_start|>") != [1]


def test_dtype_conversion(smollm2_path):
    m = longctx.Model(smollm2_path, dtype="f32", threads=2)
    assert m.dtype == "f32"
    assert len("".join(m.generate("The history of", max_tokens=8, temperature=0))) > 0


@pytest.mark.parametrize("attention", ["full", "lambda"])
def test_chat_equals_cli(model, smollm2_path, attention):
    for question in ("What is the capital of France?", "Write a haiku about the sea."):
        want = cli("run", "-m", smollm2_path, "--chat", "-p", question, "-n", 40, "--temp", 0,
                   "--attn", attention).decode()
        s = model.chat([{"role": "user", "content": question}], max_tokens=40, temperature=0,
                       attention=attention)
        assert "".join(s) + "\n" == want
        assert s.finish_reason in ("stop", "length")
    with pytest.raises(ValueError, match="role"):
        model.chat([{"content": "hi"}])
    with pytest.raises(ValueError, match="empty"):
        model.chat([])


def test_passkey_chat_cell_equals_cli(model, smollm2_path, tmp_path):
    """The instruct model's passkey through its chat template: the cell equals `longctx passkey
    --chat`, and the answer is the whole key (its 8 tokens fit the answer's budget)."""
    from longctx import _core
    js = str(tmp_path / "pk.json")
    cli("passkey", "-m", smollm2_path, "--lengths", 1024, "--samples", 1, "--attn", "full",
        "--chat", "-t", 2, "--json", js)
    want = json.load(open(js))
    assert want["chat_template"].endswith("tokenizer.chat_template")
    w = want["results"][0]["samples"][0]
    got = _core.passkey_cell(model, "full", [1024], 1, 7, 1, 1024, 0, True)
    for k in ("prompt_tokens", "key", "output", "correct", "key_tokens", "answer_tokens"):
        assert got[k] == w[k], k
    assert abs(got["key_nll"] - w["key_nll"]) < 1e-9
    assert got["correct"] and got["output"].strip().rstrip(".") == str(got["key"])
