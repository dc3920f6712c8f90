#!/usr/bin/env python3
"""The tables of docs/results/kv_precision.md from the sweep of kv_precision_smollm2.yaml:

    python3 bench/real_models/kv_tables.py --ppl build/kv_precision/ppl.json \
        --passkey build/kv_precision/passkey.json --cells build/kv_precision/cells.jsonl \
        --json docs/results/kv_precision/comparison.json

Each cache type against f32 with the same policy on the same tokens: mean NLL and its relative
difference, with the issue's bound for the type (bf16/f16 0.2%, q8_0 0.5%, q4 3%) and whether
it holds, and the largest relative difference of any position bin (the bound is on the mean);
passkey accuracy and key NLL likewise, and (with --cells, the sweep's per-sample record) the
paired per-sample difference of key NLL against f32 with its standard error and 95% interval, so
that a difference can be told from the spread between samples. Standard library only.

Each input may be given more than once (a later sweep beside an earlier one): results are taken
in the order given, and a label (or, for --cells, a sample) already taken is dropped from the
later files, with a note on stderr when its value differs.
"""
import argparse
import collections
import json
import math
import re
import sys

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


def max_bin_diff(rows):
    """[(policy, kv, record)] -> per row the largest |relative difference| of a bin's mean NLL
    against f32's same bin (NaN without an f32 row)."""
    base = {p: r["bins"]["mean_nll"] for p, kv, r in rows if kv == "f32"}
    out = []
    for p, kv, r in rows:
        b = base.get(p)
        out.append(max(abs(x - y) / y for x, y in zip(r["bins"]["mean_nll"], b))
                   if b else float("nan"))
    return out


# Two-sided 95% quantiles of Student's t by degrees of freedom (beyond 30: the normal's 1.96).
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
       10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110,
       18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060,
       26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045, 30: 2.042}


def merged(paths, load, ident, value):
    """The records of every path in order (load(path) -> records), the first of each ident only;
    later ones with another value are counted on stderr (the first named)."""
    out, seen = [], {}
    for path in paths:
        differ = []
        for r in load(path):
            k = ident(r)
            if k in seen:
                if value(r) != seen[k]:
                    differ.append((k, value(r), seen[k]))
                continue
            seen[k] = value(r)
            out.append(r)
        if differ:
            print("kv_tables: %s: %d record(s) taken from an earlier file differ here, e.g. %r "
                  "(%r here, %r used)" % ((path, len(differ)) + differ[0]), file=sys.stderr)
    return out


def load_json(path):
    return json.load(open(path))


def paired_key_nll(cells_paths):
    """Per (policy, kv, length): the paired differences of key NLL against f32's same samples
    (same length and key) -> {(policy, kv, length): (n, mean diff, standard error, f32's mean
    key NLL over those samples)}."""
    by = collections.defaultdict(dict)
    cells = merged(cells_paths, lambda path: [json.loads(line)["result"] for line in open(path)],
                   lambda r: (r.get("label"), r.get("target_len"), r.get("key")),
                   lambda r: r.get("key_nll"))
    for r in cells:
        if "key_nll" in r:
            p, kv = split_label(r["label"])
            by[(p, kv, r["target_len"])][r["key"]] = r["key_nll"]
    out = {}
    for (p, kv, n), samples in by.items():
        base = by.get((p, "f32", n))
        if kv == "f32" or not base:
            continue
        d = [samples[k] - base[k] for k in samples if k in base]
        if len(d) < 2:
            continue
        m = sum(d) / len(d)
        sd = math.sqrt(sum((x - m) ** 2 for x in d) / (len(d) - 1))
        f32 = sum(base[k] for k in samples if k in base) / len(d)
        out[(p, kv, n)] = (len(d), m, sd / math.sqrt(len(d)), f32)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ppl", action="append")
    ap.add_argument("--passkey", action="append")
    ap.add_argument("--cells", action="append",
                    help="the sweep's cells.jsonl: paired per-sample key NLL")
    ap.add_argument("--json", help="writes the comparison here")
    a = ap.parse_args()
    doc = {}
    if a.ppl:
        d = load_json(a.ppl[0])
        d["results"] = merged(a.ppl, lambda path: load_json(path)["results"],
                              lambda r: r["resolved_label"], lambda r: r["mean_nll"])
        rows = [split_label(r["resolved_label"]) + (r,) for r in d["results"]]
        cmp = compare(rows, lambda r: r["mean_nll"])
        print("Mean NLL over %d positions (nats/token), each type against f32 with the same "
              "policy.\n" % d["results"][0]["positions_scored"])
        print("| policy | KV type | mean NLL | vs f32 | bound | within | largest bin diff "
              "| KV cache MiB |")
        print("|---|---|---:|---:|---:|:---:|---:|---:|")
        doc["ppl"] = []
        bins = max_bin_diff(rows)
        for (p, kv, v, rel, b, ok), (_, _, r), mb in zip(cmp, rows, bins):
            print("| %s | %s | %.4f | %+.3f%% | %s | %s | %s | %.1f |" % (
                p, kv, v, 100 * rel, "-" if kv == "f32" else "%.1f%%" % (100 * b),
                "-" if kv == "f32" else ("yes" if ok else "**no**"),
                "-" if kv == "f32" else "%.2f%%" % (100 * mb), r["kv_cache_bytes"] / 2**20))
            doc["ppl"].append({"policy": p, "kv": kv, "mean_nll": v, "rel_vs_f32": rel,
                               "bound": b, "within": ok, "max_bin_rel_diff": mb,
                               "kv_cache_bytes": r["kv_cache_bytes"]})
        print()
    if a.passkey:
        d = load_json(a.passkey[0])
        d["results"] = merged(a.passkey, lambda path: load_json(path)["results"],
                              lambda r: r["resolved_label"],
                              lambda r: [l["mean_key_nll"] for l in r["per_length"]])
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
    if a.cells:
        pairs = paired_key_nll(a.cells)
        print("\nKey NLL, paired by sample (same key, same prompt) against f32: mean difference, "
              "its standard error, and its 95% interval (Student's t) relative to f32's mean.\n")
        print("| policy | KV type | length | samples | mean diff (nats) | s.e. | 95% interval vs f32 |")
        print("|---|---|---:|---:|---:|---:|---|")
        doc["passkey_paired"] = []
        for (p, kv, n), (cnt, m, se, f) in sorted(pairs.items()):
            t = T95.get(cnt - 1, 1.96)
            lo, hi = (m - t * se) / f, (m + t * se) / f
            print("| %s | %s | %d | %d | %+.4f | %.4f | %+.1f%% .. %+.1f%% |" % (
                p, kv, n, cnt, m, se, 100 * lo, 100 * hi))
            doc["passkey_paired"].append({"policy": p, "kv": kv, "length": n, "samples": cnt,
                                          "mean_diff": m, "stderr": se, "rel_lo95": lo,
                                          "rel_hi95": hi})
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
