"""Shared pieces of the end-to-end benchmark scripts (compare_runc.py, quantized_vs_llamacpp.py):
order statistics, how busy the machine is (from /proc/stat), waiting for a quiet machine, and
the environment of a measured child process."""
import math
import os
import sys
import time


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def quantile(v, p):
    """Linear interpolation between order statistics (as longctx bench does)."""
    s = sorted(v)
    if not s:
        return float("nan")
    idx = p * (len(s) - 1)
    lo, hi = math.floor(idx), math.ceil(idx)
    return s[lo] + (s[hi] - s[lo]) * (idx - lo)


def summary(v, keep_all=False):
    """n, median, p10, p90, min, max of the finite values (and all of them with keep_all)."""
    v = [x for x in v if x is not None and not math.isnan(x)]
    if not v:
        return None
    out = {"n": len(v), "median": quantile(v, 0.5), "p10": quantile(v, 0.1),
           "p90": quantile(v, 0.9), "min": min(v), "max": max(v)}
    if keep_all:
        out["all"] = v
    return out


def _proc_stat():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v, v[3] + (v[4] if len(v) > 4 else 0)  # all fields, idle + iowait


def busy_cpu_seconds():
    """CPU-seconds all CPUs have spent busy since boot (from /proc/stat), or None."""
    try:
        v, idle = _proc_stat()
    except OSError:
        return None
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # guest time is already in user


def cpu_busy(interval=0.5):
    """Fraction of all CPUs busy over interval seconds (from /proc/stat); None if unreadable."""
    try:
        v0, i0 = _proc_stat()
        time.sleep(interval)
        v1, i1 = _proc_stat()
    except OSError:
        return None
    return 1.0 - (i1 - i0) / max(sum(v1) - sum(v0), 1)


def wait_quiet(args, first_interval=0.5):
    """Waits (up to args.max_wait s) until other processes use at most args.max_busy of the
    CPUs. Returns the last measured busy fraction."""
    busy = cpu_busy(first_interval)
    if args.max_busy is None or busy is None:
        return busy
    deadline = time.time() + args.max_wait
    while busy > args.max_busy and time.time() < deadline:
        time.sleep(2)
        busy = cpu_busy()
    if busy > args.max_busy:
        log(f"  machine still {busy:.0%} busy after {args.max_wait} s; running anyway")
    return busy


def child_env(threads):
    """The environment of a measured child: its thread count, no BLAS threads, C locale."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    for k in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        env[k] = "1"
    env["LC_ALL"] = "C"
    return env


def write_json_atomic(path, obj):
    """Writes obj as indented JSON to path through a temporary file, so that a reader never
    sees a partial file."""
    import json
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, path)
