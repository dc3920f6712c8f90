#!/usr/bin/env python3
"""The tables of docs/results/kv_precision.md from the sweep of kv_precision_smollm2.yaml:

    python3 bench/real_models/kv_tables.py --ppl build/kv_precision/ppl.json \
        --passkey build/kv_precision/passkey.json --json docs/results/kv_precision/nll.json

Each cache type against f32 with the same policy on the same tokens: mean NLL and its relative
difference, with the issue's bound for the type (bf16/f16 0.2%, q8_0 0.5%, q4 3%) and whether
it holds; passkey accuracy and key NLL likewise. Standard library only.
"""
import argparse
import json
import re

BOUNDS = {"f32": 0.0, "bf16": 0.002, "f16": 0.002, "q8_0": 0.005, "q4": 0.03}


def split_label(label):
    """'lambda(G=10,...)+kv(q8_0)' -> ('lambda(G=10,...)', 'q8_0'); f32 has no suffix."""
    m = re.search(r"\+kv\((.*)\)$", label)
    return (label[:m.start()], m.group(1)) if m else (label, "f32")


def bound_of(kv):
    # k=T,v=U: the looser of the two types' bounds.
    types = re.findall(r"(?:k=|v=)?([a-z0-9_]+)", kv)
    return max(BOUNDS.get(t, float("nan")) for t in types)


def compare(rows, value):
    """rows: [(policy, kv, record)] -> [(policy, kv, value, rel diff vs f32, bound, ok)]."""
    base = {p: value(r) for p, kv, r in rows if kv == "f32"}
    out = []
    for p, kv, r in rows:
        v = value(r)
        rel = (v - base[p]) / base[p] if p in base else float("nan")
        b = bound_of(kv)
        out.append((p, kv, v, rel, b, kv == "f32" or abs(rel) <= b))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ppl")
    ap.add_argument("--passkey")
    ap.add_argument("--json", help="writes the comparison here")
    a = ap.parse_args()
    doc = {}
    if a.ppl:
        d = json.load(open(a.ppl))
        rows = [split_label(r["resolved_label"]) + (r,) for r in d["results"]]
        cmp = compare(rows, lambda r: r["mean_nll"])
        print("Mean NLL over %d positions (nats/token), each type against f32 with the same "
              "policy.\n" % d["results"][0]["positions_scored"])
        print("| policy | KV type | mean NLL | vs f32 | bound | within | KV cache MiB | tok/s |")
        print("|---|---|---:|---:|---:|:---:|---:|---:|")
        doc["ppl"] = []
        for (p, kv, v, rel, b, ok), (_, _, r) in zip(cmp, rows):
            print("| %s | %s | %.4f | %+.3f%% | %s | %s | %.1f | %.0f |" % (
                p, kv, v, 100 * rel, "-" if kv == "f32" else "%.1f%%" % (100 * b),
                "-" if kv == "f32" else ("yes" if ok else "**no**"),
                r["kv_cache_bytes"] / 2**20, r["tokens_per_second"]))
            doc["ppl"].append({"policy": p, "kv": kv, "mean_nll": v, "rel_vs_f32": rel,
                               "bound": b, "within": ok, "kv_cache_bytes": r["kv_cache_bytes"]})
        print()
    if a.passkey:
        d = json.load(open(a.passkey))
        rows = [split_label(r["resolved_label"]) + (l,) for r in d["results"]
                for l in r["per_length"]]
        cmp = compare(rows, lambda l: l["mean_key_nll"])
        print("Passkey: %d samples, %d-digit keys, seed %d, chat template %s; key NLL = mean "
              "NLL of the key's tokens on the answer path.\n" % (
                  d["samples_per_length"], d["digits"], d["seed"], d.get("chat_template")))
        print("| policy | KV type | length | accuracy | key NLL | vs f32 | bound | within |")
        print("|---|---|---:|---:|---:|---:|---:|:---:|")
        doc["passkey"] = []
        for (p, kv, v, rel, b, ok), (_, _, l) in zip(cmp, rows):
            print("| %s | %s | %d | %d/%d | %.4f | %+.2f%% | %s | %s |" % (
                p, kv, l["target_len"], l["correct"], l["total"], v, 100 * rel,
                "-" if kv == "f32" else "%.1f%%" % (100 * b),
                "-" if kv == "f32" else ("yes" if ok else "**no**")))
            doc["passkey"].append({"policy": p, "kv": kv, "length": l["target_len"],
                                   "correct": l["correct"], "total": l["total"],
                                   "key_nll": v, "rel_vs_f32": rel, "bound": b, "within": ok})
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
