#!/usr/bin/env python3
"""The markdown tables of docs/results/real_models.md from the sweeps' reports.

    python3 bench/real_models/tables.py --ppl build/real_models/ppl/ppl.json \
        --passkey build/real_models/passkey/passkey.json [--cost docs/results/real_models_cost.json]

ppl: mean NLL per position bin (bins merged into --ppl-bin-groups of the trained context) and
overall, per policy, with the trained-context baseline (full attention's NLL inside it) beside.
passkey: accuracy per length x depth bucket and the key NLL per policy. cost: decode tok/s and
peak RSS per policy and context. Standard library only.
"""
import argparse
import json


def ppl_table(path, group):
    d = json.load(open(path))
    res = d["results"]
    docs = d["documents"]
    names = [x if isinstance(x, str) else x.get("path", "?") for x in docs]
    out = ["Document: %s; %d positions scored per policy; NLL in nats/token." % (
        ", ".join(names), res[0]["positions_scored"]), ""]
    starts = res[0]["bins"]["start"]
    width = starts[1] - starts[0] if len(starts) > 1 else 1
    # Merge bins into groups of `group` positions (count-weighted means).
    groups = {}
    for r in res:
        b = r["bins"]
        acc = {}
        for s, m, c in zip(b["start"], b["mean_nll"], b["count"]):
            g = s // group * group
            t = acc.setdefault(g, [0.0, 0])
            t[0] += m * c
            t[1] += c
        groups[r["resolved_label"]] = {g: t[0] / t[1] for g, t in acc.items() if t[1]}
    labels = [r["resolved_label"] for r in res]
    out.append("| positions | " + " | ".join(labels) + " |")
    out.append("|---|" + "---:|" * len(labels))
    for g in sorted(groups[labels[0]]):
        out.append("| %d-%d | " % (g, g + group - 1) +
                   " | ".join("%.3f" % groups[l].get(g, float("nan")) for l in labels) + " |")
    out.append("| **all** | " + " | ".join("**%.3f**" % r["mean_nll"] for r in res) + " |")
    out.append("| tok/s | " + " | ".join("%.0f" % r["tokens_per_second"] for r in res) + " |")
    out.append("| KV cache MiB | " + " | ".join("%.0f" % (r["kv_cache_bytes"] / 2**20)
                                                for r in res) + " |")
    out.append("")
    out.append("(bins of %d positions in the report, merged into groups of %d here)" % (width, group))
    return "\n".join(out)


def passkey_table(path):
    d = json.load(open(path))
    out = ["%d samples per length, %d-digit keys, seed %d, chat template: %s." % (
        d["samples_per_length"], d["digits"], d["seed"], d.get("chat_template") or "none"), ""]
    nb = d["depth_buckets"]
    heads = ["depth %d-%d%%" % (100 * i // nb, 100 * (i + 1) // nb) for i in range(nb)]
    out.append("| attention | length | prompt tokens | accuracy | key NLL | " +
               " | ".join(heads) + " |")
    out.append("|---|---:|---:|---:|---:|" + "---:|" * nb)
    for r in d["results"]:
        for l in r["per_length"]:
            out.append("| %s | %d | %.0f | %d/%d | %.3f | " % (
                r["resolved_label"], l["target_len"], l["mean_prompt_tokens"], l["correct"],
                l["total"], l["mean_key_nll"]) + " | ".join(
                    "%d/%d" % (c, t) for c, t in zip(l["depth_bucket_correct"],
                                                     l["depth_bucket_total"])) + " |")
    secs = sum(r["seconds"] for r in d["results"])
    out.append("")
    out.append("Engine time over all cells: %.0f s." % secs)
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ppl")
    ap.add_argument("--ppl-group", type=int, default=2048)
    ap.add_argument("--passkey")
    a = ap.parse_args()
    if a.ppl:
        print(ppl_table(a.ppl, a.ppl_group))
        print()
    if a.passkey:
        print(passkey_table(a.passkey))


if __name__ == "__main__":
    main()
