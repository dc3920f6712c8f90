"""lm-evaluation-harness with the model `longctx`: lm-eval's own CLI entry point (the name
registered by the package's start-up hook, no patching of lm-eval) runs the repository's local
tasks (multiple choice, generation, long-passage rolling loglikelihood) on SmolLM2 under
`lambda`, and every loglikelihood, rolling loglikelihood and generation equals the CLI's
(bench/lm_eval_python.py does the run and the comparison; --limit keeps it short here)."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT, cli_path

pytest.importorskip("lm_eval")


def test_lm_eval_run_equals_engine(smollm2_path, tmp_path):
    out = tmp_path / "record.json"
    r = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "lm_eval_python.py"),
                        "--model", smollm2_path, "--attention", "lambda", "--limit", "4",
                        "--binary", cli_path(), "--json", str(out)],
                       capture_output=True, text=True)
    print(r.stdout[-3000:], r.stderr[-3000:])
    assert r.returncode == 0
    assert "| lambda |" in r.stdout and "PASS" in r.stdout
