"""Starting `longctx serve` for the Python server tests: a free loopback port (--port 0, read
back from the start-up line), waiting for /health, and stopping it with SIGTERM (which must
exit 0). Tests skip (exit 77, CTest's SKIP_RETURN_CODE) saying why when the model or a Python
package is missing."""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

SKIP = 77


def skip(why):
    print("SKIP: " + why)
    sys.exit(SKIP)


def assets_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("LONGCTX_ASSETS", os.path.join(here, "..", "..", "..", "shared", "assets"))


def smollm2():
    path = os.path.join(assets_dir(), "real_models", "SmolLM2-135M-Instruct.Q4_1.gguf")
    if not os.path.exists(path):
        skip("%s is absent (set LONGCTX_ASSETS)" % path)
    return path


class Server:
    def __init__(self, binary, model, *flags):
        self.cmd = [binary, "serve", "-m", model, "--port", "0", *flags]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.log = []
        deadline = time.time() + 120
        self.port = None
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError("server exited at start-up: " + "".join(self.log))
            self.log.append(line)
            m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            raise RuntimeError("no start-up line: " + "".join(self.log))
        self.url = "http://127.0.0.1:%d" % self.port
        for _ in range(200):
            try:
                urllib.request.urlopen(self.url + "/health", timeout=5).read()
                break
            except OSError:
                time.sleep(0.05)

    def metrics(self, key=None):
        req = urllib.request.Request(self.url + "/metrics")
        if key:
            req.add_header("Authorization", "Bearer " + key)
        text = urllib.request.urlopen(req, timeout=10).read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def post(self, path, body, key=None, timeout=300):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data,
                                     headers={"Content-Type": "application/json"})
        if key:
            req.add_header("Authorization", "Bearer " + key)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def kill(self):
        """For atexit: never leave a server behind a failed test."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        """SIGTERM; returns the exit code (0 expected) and the rest of stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rest = self.proc.communicate(timeout=60)[1]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rest = self.proc.communicate()[1]
            return -9, "".join(self.log) + rest
        return self.proc.returncode, "".join(self.log) + rest


class Checks:
    """Named checks; prints each, exits 1 at the end if any failed."""

    def __init__(self):
        self.failed = []
        self.n = 0

    def check(self, name, ok, detail=""):
        self.n += 1
        print("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + detail) if detail and not ok else ""))
        sys.stdout.flush()
        if not ok:
            self.failed.append(name)

    def finish(self):
        print("%d checks, %d failed%s" % (self.n, len(self.failed),
                                          (": " + ", ".join(self.failed)) if self.failed else ""))
        sys.exit(1 if self.failed else 0)
