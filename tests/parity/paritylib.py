"""Helpers shared by the parity scripts that compare longctx's logits with a reference's."""
import subprocess
import sys

import numpy as np


def sh(*args):
    """Runs a command; exits the script with its output when it fails."""
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"command failed ({r.returncode}): {' '.join(map(str, args))}\n{r.stdout}{r.stderr}")
    return r


def longctx_logits(exe, model, ids, out):
    """`longctx logits --tokens IDS`: all positions' logits, [len(ids), vocab] float32."""
    sh(exe, "logits", "-m", model, "--tokens", ",".join(map(str, ids)), "--out", out, "-t", "2")
    return np.fromfile(out, dtype=np.float32).reshape(len(ids), -1)


def compare(name, got, ref, rel_tol, width=18):
    """max|diff| / max|logit| <= rel_tol, and argmax agreement except where the reference's top
    two are closer than twice the measured error. Prints one line; returns (ok, max_diff)."""
    max_diff = float(np.abs(got - ref).max())
    rel = max_diff / float(np.abs(ref).max())
    agree = int((got.argmax(1) == ref.argmax(1)).sum())
    top2 = np.sort(ref, axis=1)[:, -2:]
    near = int(((top2[:, 1] - top2[:, 0]) <= 2 * max_diff).sum())
    ok = rel <= rel_tol and agree + near >= len(ref)
    print(f"  {name:<{width}} {len(ref)} tokens: max|diff| {max_diff:.3e}, rel {rel:.2e} "
          f"(tol {rel_tol:.0e}), argmax {agree}/{len(ref)} -> {'PASS' if ok else 'FAIL'}")
    return ok, max_diff
