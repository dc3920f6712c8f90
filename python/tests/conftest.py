"""Shared fixtures of the Python tests (run by CTest: tests/CMakeLists.txt registers one CTest test
per file). The package is found on PYTHONPATH (the build's python/ folder, or an installed
longctx); the CLI, for the comparisons, through LONGCTX_BIN. A file whose every test was skipped
exits 77, CTest's SKIP_RETURN_CODE, so a skip is never reported as a pass."""
import os
import subprocess

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def assets_dir():
    return os.environ.get("LONGCTX_ASSETS", os.path.join(ROOT, "..", "shared", "assets"))


def cli_path():
    p = os.environ.get("LONGCTX_BIN", os.path.join(ROOT, "build", "longctx"))
    if not os.path.exists(p):
        pytest.skip("the longctx CLI is absent at %s (set LONGCTX_BIN)" % p)
    return p


def cli(*args, check=True):
    """Runs the CLI; returns its stdout as bytes."""
    r = subprocess.run([cli_path(), *map(str, args)], capture_output=True)
    if check and r.returncode != 0:
        raise AssertionError("longctx %s failed (%d): %s"
                             % (" ".join(map(str, args)), r.returncode, r.stderr.decode()[-2000:]))
    return r.stdout


def logits_nll(path, ids):
    """Per-token NLL (float64[n - 1]) from a `longctx logits --out` file of ids: log-softmax in
    float64 of each row, at the next token."""
    lg = np.fromfile(path, dtype=np.float32).reshape(len(ids), -1).astype(np.float64)
    m = lg.max(axis=1)
    lse = m + np.log(np.exp(lg - m[:, None]).sum(axis=1))
    return lse[:-1] - lg[np.arange(len(ids) - 1), ids[1:]]


@pytest.fixture(scope="session")
def default_model_path():
    return os.path.join(ROOT, "models", "default")


def asset(*parts):
    """A file of ../shared/assets, or a skip naming it."""
    p = os.path.join(assets_dir(), *parts)
    if not os.path.exists(p):
        pytest.skip("%s is absent (set LONGCTX_ASSETS)" % p)
    return p


@pytest.fixture(scope="session")
def smollm2_path():
    return asset("real_models", "SmolLM2-135M-Instruct.Q4_1.gguf")


@pytest.fixture(scope="session")
def book_path():
    return asset("corpora", "frankenstein.txt")


_outcomes = {"passed": 0, "skipped": 0, "failed": 0}


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        _outcomes[report.outcome] = _outcomes.get(report.outcome, 0) + 1


def pytest_collectreport(report):
    if report.outcome == "skipped":  # a module-level skip (pytest.importorskip)
        _outcomes["skipped"] += 1


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0 and _outcomes["skipped"] and not _outcomes["passed"]:
        session.exitstatus = 77
