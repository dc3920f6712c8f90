"""Evaluation sweeps on Ray: documents x lengths x policies (ppl) and lengths x samples x policies
(passkey) as independent cells on Ray actors, merged into the JSON and PNG files of `longctx ppl`
and `longctx passkey` -- the same keys and the same numbers (timings and memory aside).

    python -m longctx.sweep --config sweep.yaml [--ray-address local|auto|HOST:PORT]
                            [--workers N] [--threads T] [--out DIR] [--max-retries R]

The config (YAML):

    model: path/to/model.gguf      # required; dtype:, tokenizer: optional
    threads: 1                     # engine threads per worker (the Ray CPUs each actor takes)
    workers: 2                     # actors (default: the cluster's CPUs // threads)
    out: build/sweep               # the reports go here
    ppl:                           # one JSON per length: ppl-len{L}.json (+ .png)
      documents: [a.txt, b.txt]
      lengths: [0]                 # --max-len values; 0 = whole documents
      attention: [full, lambda]    # the CLI's --attn items
      bin: 128
    passkey:                       # passkey.json (+ passkey.png, passkey-accuracy.png)
      lengths: [1024, 2048]
      samples: 10                  # per length; each sample draws its key and depth
      depths: [0.1, 0.5, 0.9]      # optional: fixed needle depths, sample i at depths[i % 3]
      digits: 7
      seed: 1                      # or seeds: [1, 2, 3] -> passkey-seed{S}.json each
      chat: false                  # true: through the model's chat template (instruct models)
      attention: [full, lambda]

One model load per actor; each actor is pinned (sched_setaffinity) to CPUs of its node that no
other worker holds (a lock file per CPU). A cell whose worker dies (killed, out of memory, node lost) is retried on a
replacement actor up to --max-retries times; a cell the engine refuses (an error it raises)
fails without retry and its report is not written. A progress bar shows cells done and failed
and the time left. sweep.json in the output directory records the cells, retries, workers and
wall time. Multi-node: docs/python.md.

Resuming: every finished cell is appended to cells.jsonl in the output directory as it comes
back, keyed by a hash of the model (path, dtype, tokenizer) and the cell's own arguments. A
sweep started again with the same output directory (after an interruption, or with more
lengths or policies) takes the cells it finds there instead of recomputing them; --no-resume
ignores the file (and starts it anew).
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import time
import uuid

from . import _core
from ._core import Model


class ConfigError(ValueError):
    pass


# The members of a ppl / passkey JSON that differ between two runs of the same evaluation.
RUN_DEPENDENT = frozenset({"seconds", "tokens_per_second", "peak_rss_bytes", "command"})


def report_difference(a, b, path=""):
    """The first difference between two reports (parsed JSON) outside RUN_DEPENDENT members, as
    "path: what"; "" when they have the same keys and the same numbers (NaN equal to NaN)."""
    if isinstance(a, dict):
        if not isinstance(b, dict) or a.keys() != b.keys():
            return "%s: keys differ %s" % (path, set(a) ^ set(b if isinstance(b, dict) else {}))
        for k in a:
            d = "" if k in RUN_DEPENDENT else report_difference(a[k], b[k], path + "/" + k)
            if d:
                return d
    elif isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return "%s: lengths differ" % path
        for i, (x, y) in enumerate(zip(a, b)):
            d = report_difference(x, y, "%s[%d]" % (path, i))
            if d:
                return d
    elif not (a == b or (a != a and b != b)):
        return "%s: %r != %r" % (path, a, b)
    return ""


def _req(d, key, kind, where):
    if key not in d:
        raise ConfigError("%s: '%s' is required" % (where, key))
    v = d[key]
    if not isinstance(v, kind):
        raise ConfigError("%s: '%s' must be a %s, got %r" % (where, key, kind.__name__, v))
    return v


def _int_list(d, key, where, minimum):
    v = _req(d, key, list, where)
    if not v or not all(isinstance(x, int) and not isinstance(x, bool) and x >= minimum for x in v):
        raise ConfigError("%s: '%s' must be a non-empty list of integers >= %d, got %r"
                          % (where, key, minimum, v))
    return v


def _str_list(d, key, where):
    v = _req(d, key, list, where)
    if not v or not all(isinstance(x, str) for x in v):
        raise ConfigError("%s: '%s' must be a non-empty list of strings, got %r" % (where, key, v))
    return v


def load_config(path):
    """The config file as a checked dict; ConfigError names the key and what was expected."""
    import yaml
    try:
        with open(path, encoding="utf-8") as f:
            cfg = yaml.safe_load(f)
    except OSError as e:
        raise ConfigError("--config: cannot read '%s': %s" % (path, e.strerror)) from None
    except yaml.YAMLError as e:
        raise ConfigError("--config: '%s' is not valid YAML: %s" % (path, str(e).splitlines()[0]))
    if not isinstance(cfg, dict):
        raise ConfigError("--config: '%s' must be a YAML mapping" % path)
    known = {"model", "dtype", "tokenizer", "threads", "workers", "out", "ppl", "passkey"}
    for k in cfg:
        if k not in known:
            raise ConfigError("config: unknown key '%s' (expected one of %s)" % (k, ", ".join(sorted(known))))
    _req(cfg, "model", str, "config")
    if "ppl" not in cfg and "passkey" not in cfg:
        raise ConfigError("config: nothing to run (give a 'ppl' or a 'passkey' section)")
    if "ppl" in cfg:
        p = _req(cfg, "ppl", dict, "config")
        _str_list(p, "documents", "ppl")
        p.setdefault("lengths", [0])
        for n in _int_list(p, "lengths", "ppl", 0):
            if n == 1:
                raise ConfigError("ppl: a length of 1 leaves nothing to score (0 = whole documents)")
        _str_list(p, "attention", "ppl")
        p.setdefault("bin", 128)
        if not isinstance(p["bin"], int) or p["bin"] < 1:
            raise ConfigError("ppl: 'bin' must be an integer >= 1")
    if "passkey" in cfg:
        k = _req(cfg, "passkey", dict, "config")
        _int_list(k, "lengths", "passkey", 1)
        _str_list(k, "attention", "passkey")
        for key, default, lo, hi in (("samples", 10, 1, 1 << 20), ("digits", 7, 1, 18),
                                     ("seed", 1, 0, 2 ** 63 - 1)):
            k.setdefault(key, default)
            if not isinstance(k[key], int) or isinstance(k[key], bool) or not lo <= k[key] <= hi:
                raise ConfigError("passkey: '%s' must be an integer in [%d, %d]" % (key, lo, hi))
        k.setdefault("chat", False)
        if not isinstance(k["chat"], bool):
            raise ConfigError("passkey: 'chat' must be true or false")
        k.setdefault("depths", [])
        if not isinstance(k["depths"], list) or not all(
                isinstance(d, (int, float)) and not isinstance(d, bool) and 0 <= d < 1
                for d in k["depths"]):
            raise ConfigError("passkey: 'depths' must be a list of numbers in [0, 1)")
        if "seeds" in k:
            _int_list(k, "seeds", "passkey", 0)
        else:
            k["seeds"] = [k["seed"]]
    return cfg


# ---------------------------------------------------------------- the worker


_CPU_LOCKS = []  # open lock files of the CPUs this process holds (released when it exits)


def _lock_dir(run_id):
    return os.path.join(os.environ.get("TMPDIR", "/tmp"), "longctx-sweep-cpus-" + run_id)


def _pin(threads, run_id):
    """Pins this process to `threads` CPUs of its node that no other worker of this sweep run
    holds: each CPU has a lock file (flock, released by the OS when the holder dies, so a
    replacement worker gets the CPUs of the one it replaces). The locks are per run (run_id):
    two sweeps running at once on one machine each pin their own workers apart, rather than the
    second finding every CPU taken and running unpinned. Returns the CPUs, or None when not
    enough are free (then the worker runs unpinned)."""
    import fcntl
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return None
    lock_dir = _lock_dir(run_id)
    os.makedirs(lock_dir, exist_ok=True)
    mine = []
    for cpu in cpus:
        f = open(os.path.join(lock_dir, "cpu%d.lock" % cpu), "w")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            continue
        _CPU_LOCKS.append(f)
        mine.append(cpu)
        if len(mine) == threads:
            os.sched_setaffinity(0, mine)
            return mine
    for f in _CPU_LOCKS:
        f.close()
    _CPU_LOCKS.clear()
    return None


class Worker:
    """One Ray actor: one model load, cells run one at a time with `threads` engine threads."""

    def __init__(self, model, dtype, tokenizer, threads, run_id):
        self.cpus = _pin(threads, run_id)
        self.model = Model(model, dtype=dtype, threads=threads, tokenizer=tokenizer)

    def info(self):
        return {"pid": os.getpid(), "cpus": self.cpus}

    def ppl(self, tokens, attention, session_tokens):
        return _core.ppl_cell(self.model, tokens, attention, session_tokens)

    def passkey(self, attention, lengths, samples, digits, seed, length, index, chat, depths=()):
        return _core.passkey_cell(self.model, attention, lengths, samples, digits, seed, length,
                                  index, chat, list(depths))


# ---------------------------------------------------------------- cells and reports


def plan(cfg, model):
    """The cells (dicts with a 'group', a 'call' and 'args') and the report groups."""
    cells, groups = [], []
    for section in ("ppl", "passkey"):  # a bad policy fails here, before any worker starts
        for attn in cfg.get(section, {}).get("attention", []):
            _core.check_attention(model, attn)
    if "ppl" in cfg:
        p = cfg["ppl"]
        for length in p["lengths"]:
            docs = _core.ppl_documents(model, p["documents"], length)
            longest = max(len(d["tokens"]) for d in docs)
            name = "ppl-len%d" % length if len(p["lengths"]) > 1 else "ppl"
            groups.append({"name": name, "kind": "ppl", "docs": docs, "max_len": length,
                           "bin": p["bin"], "attention": list(p["attention"])})
            for attn in p["attention"]:
                for i, d in enumerate(docs):
                    cells.append({"group": name, "attention": attn, "index": i, "call": "ppl",
                                  "args": (d["tokens"], attn, longest),
                                  "cost": len(d["tokens"])})
    if "passkey" in cfg:
        k = cfg["passkey"]
        chat = k.get("chat", False)
        _core.passkey_check(model, k["lengths"], k["digits"], chat)
        for seed in k["seeds"]:
            name = "passkey" if len(k["seeds"]) == 1 else "passkey-seed%d" % seed
            groups.append({"name": name, "kind": "passkey", "attention": list(k["attention"]),
                           "lengths": k["lengths"], "samples": k["samples"],
                           "digits": k["digits"], "seed": seed, "chat": chat,
                           "depths": [float(d) for d in k["depths"]]})
            for attn in k["attention"]:
                for li, length in enumerate(k["lengths"]):
                    for i in range(k["samples"]):
                        args = (attn, k["lengths"], k["samples"], k["digits"], seed, length, i,
                                chat)
                        if k["depths"]:  # (only then: the cells of older journals keep their keys)
                            args += ([float(d) for d in k["depths"]],)
                        cells.append({"group": name, "attention": attn, "index": (li, i),
                                      "call": "passkey", "args": args, "cost": length})
    for n, c in enumerate(cells):
        c["id"] = n
    return cells, groups


def report(model, group, cells, command, out_dir):
    """Writes one group's JSON (and plots); returns its path, or None when a cell failed."""
    mine = [c for c in cells if c["group"] == group["name"] and c["attention"] in group["attention"]]
    if any("result" not in c for c in mine):
        return None
    results = []
    for attn in group["attention"]:
        cs = sorted((c for c in mine if c["attention"] == attn), key=lambda c: c["index"])
        rs = [c["result"] for c in cs]
        entry = {"attention": attn, "label": rs[0]["label"],
                 "seconds": float(sum(r["seconds"] for r in rs))}
        if group["kind"] == "ppl":
            entry.update(nll=[r["nll"] for r in rs], state_bytes=rs[0]["state_bytes"],
                         peak_rss=max(r["peak_rss"] for r in rs))
        else:
            entry["samples"] = rs
        results.append(entry)
    json_path = os.path.join(out_dir, group["name"] + ".json")
    plot = os.path.join(out_dir, group["name"] + ".png")
    if group["kind"] == "ppl":
        text = _core.ppl_report(model, group["docs"], results, group["bin"], group["max_len"],
                                command, plot)
    else:
        text = _core.passkey_report(model, results, group["lengths"], group["samples"],
                                    group["digits"], group["seed"], command, plot,
                                    group["chat"], group["depths"])
    tmp = json_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, json_path)
    return json_path


# ---------------------------------------------------------------- the journal of finished cells

JOURNAL = "cells.jsonl"


def cell_key(cfg, cell):
    """A cell's identity across runs: the model and the call with its arguments."""
    ident = [os.path.abspath(cfg["model"]), cfg.get("dtype", ""), cfg.get("tokenizer", ""),
             cell["call"], list(cell["args"])]
    def plain(o):  # token arrays
        return o.tolist() if hasattr(o, "tolist") else str(o)
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=plain).encode()).hexdigest()


def _encode(v):
    import numpy as np
    if isinstance(v, np.ndarray):
        return {"__ndarray__": v.tolist(), "dtype": str(v.dtype)}
    if isinstance(v, bytes):
        return {"__bytes__": v.hex()}
    if isinstance(v, dict):
        return {k: _encode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_encode(x) for x in v]
    return v


def _decode(v):
    import numpy as np
    if isinstance(v, dict):
        if "__ndarray__" in v:
            return np.asarray(v["__ndarray__"], dtype=v["dtype"])
        if "__bytes__" in v:
            return bytes.fromhex(v["__bytes__"])
        return {k: _decode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_decode(x) for x in v]
    return v


def read_journal(path):
    """{key: result} of a journal; a line cut short by an interruption is skipped."""
    found = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    e = json.loads(line)
                    found[e["key"]] = _decode(e["result"])
                except (ValueError, KeyError, TypeError):
                    continue
    except FileNotFoundError:
        pass
    return found


class Journal:
    """Appends finished cells, one JSON line each, flushed to disk as they come."""

    def __init__(self, path, fresh):
        self.f = open(path, "w" if fresh else "a", encoding="utf-8")

    def add(self, key, result):
        self.f.write(json.dumps({"key": key, "result": _encode(result)}) + "\n")
        self.f.flush()
        os.fsync(self.f.fileno())

    def close(self):
        self.f.close()


# ---------------------------------------------------------------- running on Ray


class _Progress:
    def __init__(self, total):
        self.total, self.done, self.failed, self.retried = total, 0, 0, 0
        self.t0 = time.time()
        try:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="cell", dynamic_ncols=True,
                            mininterval=0.5 if sys.stderr.isatty() else 10.0)
        except ImportError:
            self.bar = None

    def update(self, ok):
        self.done += ok
        self.failed += not ok
        if self.bar is not None:
            self.bar.set_postfix(done=self.done, failed=self.failed, retried=self.retried,
                                 refresh=False)
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _check_reachable(address):
    """HOST:PORT must accept a TCP connection (Ray itself retries a wrong address for minutes)."""
    import socket
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError("--ray-address: expected local, auto or HOST:PORT, got '%s'" % address)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise ConfigError("--ray-address: cannot reach %s (%s); is `ray start --head` running "
                          "there?" % (address, e.strerror or e)) from None


def init_ray(address, num_cpus=None):
    import ray
    if ray.is_initialized():
        return
    kw = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
    if address in (None, "", "local"):
        ray.init(num_cpus=num_cpus, **kw)
        return
    if address != "auto":
        _check_reachable(address)
    try:
        ray.init(address=address, **kw)
    except ConnectionError as e:
        raise ConfigError("--ray-address %s: %s" % (address, str(e).splitlines()[0])) from None


def run_sweep(cfg, address="local", workers=None, threads=None, out=None, max_retries=3,
              command="", on_progress=None, resume=True, report_finished=False):
    """Runs every cell of cfg on Ray actors and writes the reports. on_progress(state), if
    given, is called after each finished cell with {done, failed, slot (the worker that
    finished it), actors, pids} (tests use it to kill a worker). Returns the summary written
    to sweep.json. report_finished: compute nothing and start no Ray; write the reports of the
    journal's finished cells, each group with the policies whose cells are all done (a sweep
    still running or interrupted), and the summary, with what is pending, to
    sweep-partial.json."""
    import ray
    from ray.exceptions import RayActorError, RayTaskError

    threads = int(threads or cfg.get("threads", 1))
    out_dir = out or cfg.get("out", "sweep-out")
    os.makedirs(out_dir, exist_ok=True)
    model = Model(cfg["model"], dtype=cfg.get("dtype", ""), threads=threads,
                  tokenizer=cfg.get("tokenizer", ""))
    cells, groups = plan(cfg, model)
    journal_path = os.path.join(out_dir, JOURNAL)
    found = read_journal(journal_path) if resume else {}
    resumed = 0
    for c in cells:
        c["key"] = cell_key(cfg, c)
        if c["key"] in found:
            c["result"] = found[c["key"]]
            resumed += 1
    todo = [c for c in cells if "result" not in c]
    if report_finished:
        pending = []
        for g in groups:
            mine = [c for c in cells if c["group"] == g["name"]]
            ready = [a for a in g["attention"]
                     if all("result" in c for c in mine if c["attention"] == a)]
            pending += [{"group": g["name"], "attention": a} for a in g["attention"]
                        if a not in ready]
            g["attention"] = ready
        return _finish(model, cells, [g for g in groups if g["attention"]], command, out_dir,
                       address, resumed,
                       {"done": 0, "failed": 0, "retried": 0, "workers": 0, "threads": threads,
                        "lost": 0, "cpus": [], "wall": 0.0, "cluster_cpus": 0},
                       summary_name="sweep-partial.json", extra={"pending": pending})
    journal = Journal(journal_path, fresh=not resume)
    if resumed:
        print("longctx.sweep: %d of %d cells found in %s" % (resumed, len(cells), journal_path),
              file=sys.stderr)
    if not todo:
        journal.close()
        return _finish(model, cells, groups, command, out_dir, address, resumed,
                       {"done": 0, "failed": 0, "retried": 0, "workers": 0, "threads": threads,
                        "lost": 0, "cpus": [], "wall": 0.0, "cluster_cpus": 0})
    init_ray(address, num_cpus=(workers or cfg.get("workers") or 0) * threads or None)
    cluster_cpus = int(ray.cluster_resources().get("CPU", 1))
    n_workers = int(workers or cfg.get("workers") or max(1, cluster_cpus // threads))
    n_workers = max(1, min(n_workers, len(todo)))
    actor_cls = ray.remote(num_cpus=threads, max_restarts=0)(Worker)
    run_id = uuid.uuid4().hex[:12]

    def spawn():
        return actor_cls.remote(cfg["model"], cfg.get("dtype", ""), cfg.get("tokenizer", ""),
                                threads, run_id)

    actors = [spawn() for _ in range(n_workers)]
    try:
        infos = ray.get([a.info.remote() for a in actors])  # waits for every model load
    except (RayActorError, RayTaskError) as e:
        raise ConfigError("a worker could not start (is the model at the same path on every "
                          "node?): %s" % str(e).strip().splitlines()[-1]) from None
    queue = sorted(todo, key=lambda c: -c["cost"])  # longest first: the tail stays short
    inflight = {}  # ObjectRef -> (cell, slot)
    attempts = {c["id"]: 0 for c in cells}
    progress = _Progress(len(todo))
    lost = 0
    t0 = time.time()

    def submit(slot):
        if queue and actors[slot] is not None:
            c = queue.pop(0)
            attempts[c["id"]] += 1
            ref = getattr(actors[slot], c["call"]).remote(*c["args"])
            inflight[ref] = (c, slot)

    for s in range(n_workers):
        submit(s)
    while inflight:
        ready, _ = ray.wait(list(inflight), num_returns=1)
        ref = ready[0]
        c, slot = inflight.pop(ref)
        try:
            c["result"] = ray.get(ref)
            journal.add(c["key"], c["result"])
            progress.update(True)
        except RayActorError:
            # The worker died (killed, out of memory, node lost): a new actor takes its slot,
            # its cell goes back to the front of the queue.
            lost += 1
            actors[slot] = spawn()
            try:
                infos[slot] = ray.get(actors[slot].info.remote())
            except (RayActorError, RayTaskError):  # no replacement: the slot is dropped
                actors[slot] = None
            if attempts[c["id"]] <= max_retries:
                progress.retried += 1
                queue.insert(0, c)
            else:
                c["error"] = "worker died %d times" % attempts[c["id"]]
                progress.update(False)
        except RayTaskError as e:  # the engine refused the cell: deterministic, no retry
            cause = e.cause if getattr(e, "cause", None) is not None else e
            c["error"] = "%s: %s" % (type(cause).__name__, cause)
            progress.update(False)
        if on_progress is not None:
            on_progress({"done": progress.done, "failed": progress.failed, "slot": slot,
                         "actors": actors, "pids": [i["pid"] for i in infos]})
        submit(slot)
    for c in queue:  # left over only when every worker slot was dropped
        c["error"] = "no worker left to run it"
        progress.update(False)
    progress.close()
    journal.close()
    wall = time.time() - t0
    # Graceful exits (their CPUs' locks released) before the next sweep in this process starts.
    live = [a for a in actors if a is not None]
    ray.wait([a.__ray_terminate__.remote() for a in live], num_returns=len(live), timeout=30)
    # This run's lock files on the driver's node (other nodes' few empty files are left).
    shutil.rmtree(_lock_dir(run_id), ignore_errors=True)
    return _finish(model, cells, groups, command, out_dir, address, resumed,
                   {"done": progress.done, "failed": progress.failed,
                    "retried": progress.retried, "workers": n_workers, "threads": threads,
                    "lost": lost, "cpus": [i["cpus"] for i in infos], "wall": wall,
                    "cluster_cpus": cluster_cpus})


def _finish(model, cells, groups, command, out_dir, address, resumed, run,
            summary_name="sweep.json", extra=None):
    """Writes the reports and the summary (sweep.json); returns the summary."""
    written, failed_groups = [], []
    for g in groups:
        path = report(model, g, cells, command, out_dir)
        (written if path else failed_groups).append(path or g["name"])
    summary = {
        "cells": len(cells), "resumed": resumed, "done": run["done"], "failed": run["failed"],
        "retried": run["retried"], "workers": run["workers"], "threads_per_worker": run["threads"],
        "workers_lost": run["lost"], "worker_cpus": run["cpus"], "wall_seconds": run["wall"],
        "ray_address": address or "local", "cluster_cpus": run["cluster_cpus"],
        "reports": written, "groups_not_written": failed_groups,
        "errors": [{"group": c["group"], "attention": c["attention"], "index": c["index"],
                    "error": c["error"]} for c in cells if "error" in c],
        "command": command,
    }
    summary.update(extra or {})
    with open(os.path.join(out_dir, summary_name), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    return summary


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m longctx.sweep", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="the sweep's YAML file")
    ap.add_argument("--ray-address", default="local",
                    help="local (start Ray here, the default), auto (join the running cluster) "
                         "or HOST:PORT")
    ap.add_argument("--workers", type=int, help="actors (default: config, else CPUs // threads)")
    ap.add_argument("--threads", type=int, help="engine threads per worker (default: config, else 1)")
    ap.add_argument("--out", help="output directory (default: config 'out', else sweep-out)")
    ap.add_argument("--max-retries", type=int, default=3,
                    help="times a cell is retried when its worker dies (default 3)")
    ap.add_argument("--no-resume", action="store_true",
                    help="recompute every cell (ignore and restart the output's cells.jsonl)")
    ap.add_argument("--report-finished", action="store_true",
                    help="compute nothing: the reports of the cells already in cells.jsonl, per "
                         "group the policies that are complete (while a sweep runs, or after it "
                         "stopped); summary in sweep-partial.json")
    a = ap.parse_args(argv)
    if a.report_finished and a.no_resume:
        ap.error("--report-finished reads the journal; it does not combine with --no-resume")
    for flag, v in (("--workers", a.workers), ("--threads", a.threads)):
        if v is not None and v < 1:
            ap.error("%s: expected >= 1, got %d" % (flag, v))
    if a.max_retries < 0:
        ap.error("--max-retries: expected >= 0")
    try:
        cfg = load_config(a.config)
        command = "python -m longctx.sweep " + " ".join(argv if argv is not None else sys.argv[1:])
        s = run_sweep(cfg, a.ray_address, a.workers, a.threads, a.out, a.max_retries, command,
                      resume=not a.no_resume, report_finished=a.report_finished)
    except (ConfigError, ValueError, FileNotFoundError, _core.Error) as e:
        print("longctx.sweep: %s" % e, file=sys.stderr)
        return 2
    print("%d cells: %d resumed, %d done, %d failed, %d retried; %d worker(s) x %d thread(s), "
          "%.1f s; wrote %s" % (s["cells"], s["resumed"], s["done"], s["failed"], s["retried"],
                                s["workers"],
                        s["threads_per_worker"], s["wall_seconds"], ", ".join(s["reports"]) or "nothing"),
          file=sys.stderr)
    for e in s["errors"]:
        print("  failed: %s %s %s: %s" % (e["group"], e["attention"], e["index"], e["error"]),
              file=sys.stderr)
    for p in s.get("pending", []):
        print("  pending: %s %s" % (p["group"], p["attention"]), file=sys.stderr)
    return 0 if s["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
