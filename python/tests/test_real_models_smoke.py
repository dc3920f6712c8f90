"""Smoke runs of the real-model evaluation commands (docs/results/real_models.md) on SmolLM2 at
toy lengths: each configuration under bench/real_models/ runs through longctx.sweep with its own
policies (and, for passkey, the chat template) and writes its report; the cost script runs its
policies at one short context. Seconds, not the full sweeps; the numbers are not checked here,
only that every command runs end to end and reports what it was asked."""
import json
import os
import subprocess
import sys

import pytest

ray = pytest.importorskip("ray")
from longctx import sweep  # noqa: E402
from conftest import ROOT  # noqa: E402

CONFIGS = os.path.join(ROOT, "bench", "real_models")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def load(name, smollm2_path, out):
    cfg = sweep.load_config(os.path.join(CONFIGS, name))
    cfg["model"] = smollm2_path  # LONGCTX_ASSETS may point elsewhere than ../shared/assets
    cfg["out"] = str(out)
    cfg["threads"], cfg["workers"] = 1, 2
    return cfg


def test_ppl_config_runs_every_policy(local_ray, smollm2_path, book_path, tmp_path):
    cfg = load("ppl_smollm2.yaml", smollm2_path, tmp_path)
    cfg["ppl"]["documents"] = [book_path]
    cfg["ppl"]["lengths"], cfg["ppl"]["bin"] = [300], 100
    s = sweep.run_sweep(cfg, out=str(tmp_path), command="smoke")
    assert s["failed"] == 0 and s["done"] == len(cfg["ppl"]["attention"])
    rep = json.load(open(tmp_path / "ppl.json"))
    assert len(rep["results"]) == len(cfg["ppl"]["attention"])


def test_passkey_config_runs_through_the_chat_template(local_ray, smollm2_path, tmp_path):
    cfg = load("passkey_smollm2.yaml", smollm2_path, tmp_path)
    assert cfg["passkey"]["chat"] is True
    cfg["passkey"]["lengths"], cfg["passkey"]["samples"] = [400], 1
    s = sweep.run_sweep(cfg, out=str(tmp_path), command="smoke")
    assert s["failed"] == 0
    rep = json.load(open(tmp_path / "passkey.json"))
    assert rep["chat_template"].endswith("tokenizer.chat_template")
    assert len(rep["results"]) == len(cfg["passkey"]["attention"])


def test_cost_script_runs_its_policies(smollm2_path, tmp_path):
    out = str(tmp_path / "cost")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "attention_scaling.py"),
                        "--bin", os.environ.get("LONGCTX_BIN", os.path.join(ROOT, "build", "longctx")),
                        "--model", smollm2_path, "--contexts", "512", "--rounds", "1",
                        "--gen", "2", "--reps", "1", "--prefill", "256",
                        "--policies", "full,lambda,streaming,trams:M=1024:R=256:m=512",
                        "--out", out], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.load(open(out + ".json"))
    assert len(doc["decode"]) == 4
