"""Sweeps on a local Ray instance (ray.init(num_cpus=2)): the merged JSON equals the CLI's (same
keys, same numbers; timings, memory and the command line aside), also when a worker process is
killed mid-sweep; config errors are one line."""
import contextlib
import io
import json
import os
import signal

import pytest

ray = pytest.importorskip("ray")
from longctx import sweep  # noqa: E402
from conftest import asset, cli  # noqa: E402

@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def setup(default_model_path, tmp_path_factory):
    books = [asset("corpora", b)
             for b in ("frankenstein.txt", "pride_and_prejudice.txt", "tinyshakespeare.txt")]
    d = tmp_path_factory.mktemp("sweep")
    cfg = {"model": default_model_path, "threads": 1, "workers": 2,
           "ppl": {"documents": books, "lengths": [1500, 4000], "bin": 100,
                   "attention": ["full", "lambda", "streaming:G=4:W=128"]},
           "passkey": {"lengths": [300, 600], "samples": 4, "digits": 5, "seeds": [3, 4],
                       "depths": [0.2, 0.7], "attention": ["full", "lambda"]}}
    want = {}
    for n in (1500, 4000):
        want["ppl-len%d" % n] = d / ("cli-ppl-%d.json" % n)
        cli("ppl", "-m", default_model_path, *sum((["-f", b] for b in books), []),
            "--max-len", n, "--bin", 100, "--attn", "full,lambda,streaming:G=4:W=128", "-t", 1,
            "--json", want["ppl-len%d" % n])
    for seed in (3, 4):
        want["passkey-seed%d" % seed] = d / ("cli-passkey-%d.json" % seed)
        cli("passkey", "-m", default_model_path, "--lengths", "300,600", "--samples", 4,
            "--digits", 5, "--seed", seed, "--depths", "0.2,0.7", "--attn", "full,lambda", "-t", 1,
            "--json", want["passkey-seed%d" % seed])
    return cfg, {k: json.load(open(v)) for k, v in want.items()}, d


def check_reports(summary, out, want):
    assert summary["failed"] == 0 and summary["groups_not_written"] == []
    assert sorted(os.path.basename(p) for p in summary["reports"]) == sorted(
        k + ".json" for k in want)
    for name, w in want.items():
        assert sweep.report_difference(w, json.load(open(os.path.join(out, name + ".json")))) == ""
        assert os.path.getsize(os.path.join(out, name + ".png")) > 1000
    assert os.path.exists(os.path.join(out, "passkey-seed3-accuracy.png"))


def test_sweep_equals_cli(local_ray, setup):
    cfg, want, d = setup
    out = str(d / "out")
    s = sweep.run_sweep(cfg, out=out, command="test")
    assert s["cells"] == 2 * 3 * 3 + 2 * 2 * 2 * 4 and s["done"] == s["cells"]
    assert s["retried"] == 0 and s["workers"] == 2
    # Each worker pinned to its own CPU (this Ray instance has 2; the machine may have more).
    cpus = [c for w in s["worker_cpus"] for c in (w or [])]
    assert len(cpus) == 2 and len(set(cpus)) == 2, s["worker_cpus"]
    check_reports(s, out, want)


def test_killed_worker_is_replaced_and_the_sweep_completes(local_ray, setup):
    cfg, want, d = setup
    out = str(d / "killed")
    killed = []

    def kill_the_other_worker(state):
        # Right after the first cell: the other worker is busy with its own cell.
        if not killed:
            other = 1 - state["slot"]
            os.kill(state["pids"][other], signal.SIGKILL)
            killed.append(other)

    s = sweep.run_sweep(cfg, out=out, command="test", on_progress=kill_the_other_worker)
    assert killed and s["workers_lost"] >= 1 and s["retried"] >= 1
    assert s["done"] == s["cells"]
    check_reports(s, out, want)


def test_interrupted_sweep_resumes_without_recomputing(local_ray, setup):
    cfg, want, d = setup
    full = d / "resume-full"
    s = sweep.run_sweep(cfg, out=str(full), command="test")
    assert s["resumed"] == 0 and s["done"] == s["cells"]
    lines = (full / sweep.JOURNAL).read_text().splitlines(keepends=True)
    assert len(lines) == s["cells"]
    # Started again on the same output: every cell is found, none is run, the reports are equal.
    again = sweep.run_sweep(cfg, out=str(full), command="test")
    assert again["resumed"] == again["cells"] and again["done"] == 0
    check_reports(again, str(full), want)
    # An interruption: half of the cells journaled, the last line cut short mid-write.
    cut = d / "resume-cut"
    cut.mkdir()
    half = len(lines) // 2
    (cut / sweep.JOURNAL).write_text("".join(lines[:half]) + lines[half][: len(lines[half]) // 2])
    r = sweep.run_sweep(cfg, out=str(cut), command="test")
    assert r["resumed"] == half and r["done"] == r["cells"] - half
    check_reports(r, str(cut), want)
    # --report-finished: nothing computed; the groups get the policies whose cells are all in
    # the journal (here: ppl with `full` only), equal to the CLI's entries; the rest is pending.
    part = d / "partial"
    only_full = dict(cfg, ppl=dict(cfg["ppl"], attention=["full"]))
    del only_full["passkey"]
    sweep.run_sweep(only_full, out=str(part), command="test")
    p = sweep.run_sweep(cfg, out=str(part), command="test", report_finished=True)
    assert p["done"] == 0 and p["failed"] == 0
    assert sorted(os.path.basename(x) for x in p["reports"]) == ["ppl-len1500.json",
                                                                  "ppl-len4000.json"]
    assert len(p["pending"]) == 2 * 2 + 2 * 2  # lambda, streaming x 2 lengths; 2 x 2 passkey
    assert os.path.exists(part / "sweep-partial.json")
    for name in ("ppl-len1500", "ppl-len4000"):
        got = json.load(open(part / (name + ".json")))
        w = dict(want[name], results=want[name]["results"][:1])
        assert sweep.report_difference(w, got) == ""
    # --no-resume recomputes everything.
    fresh = sweep.run_sweep(cfg, out=str(cut), command="test", resume=False)
    assert fresh["resumed"] == 0 and fresh["done"] == fresh["cells"]


def test_config_errors(tmp_path, default_model_path):
    cases = {
        "model: [1]\n": "'model' must be a str",
        "threads: 1\n": "'model' is required",
        "model: m\n": "nothing to run",
        "model: m\nppl: {documents: [a], lengths: [1], attention: [full]}\n": "length of 1",
        "model: m\nppl: {documents: [], attention: [full]}\n": "non-empty list",
        "model: m\npasskey: {lengths: [512], attention: [full], digits: 40}\n": "digits",
        "model: m\npasskey: {lengths: [512], attention: [full], depths: [0.5, 1]}\n": "depths",
        "model: m\nbogus: 1\n": "unknown key 'bogus'",
        "model: [unclosed\n": "not valid YAML",
    }
    for text, msg in cases.items():
        p = tmp_path / "c.yaml"
        p.write_text(text)
        with pytest.raises(sweep.ConfigError, match=msg):
            sweep.load_config(str(p))
    with pytest.raises(sweep.ConfigError, match="cannot read"):
        sweep.load_config(str(tmp_path / "absent.yaml"))
    # The command line: one line on stderr, exit 2, before any worker starts.
    doc = tmp_path / "doc.txt"
    doc.write_text("Once upon a time there was a king.\n")
    for text, msg in (
            ("ppl: {documents: [%s], attention: [full]}" % (tmp_path / "absent.txt"), "absent.txt"),
            ("ppl: {documents: [%s], attention: [lamda]}" % doc, "lamda"),
            ("passkey: {lengths: [100], attention: [full]}", "below the prompt overhead")):
        p.write_text("model: %s\n%s\n" % (default_model_path, text))
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert sweep.main(["--config", str(p)]) == 2
        assert msg in err.getvalue() and len(err.getvalue().strip().splitlines()) == 1, err.getvalue()


def test_unreachable_ray_address_is_one_line(tmp_path, default_model_path, book_path):
    import subprocess
    import sys
    p = tmp_path / "c.yaml"
    p.write_text("model: %s\nppl: {documents: [%s], lengths: [500], attention: [lambda]}\n"
                 % (default_model_path, book_path))
    for address, msg in (("127.0.0.1:1", "cannot reach 127.0.0.1:1"),
                         ("bogus", "expected local, auto or HOST:PORT")):
        r = subprocess.run([sys.executable, "-m", "longctx.sweep", "--config", str(p),
                            "--ray-address", address, "--out", str(tmp_path / "o")],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and msg in r.stderr, r.stderr[-2000:]
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr[-2000:]
