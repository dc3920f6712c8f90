#!/usr/bin/env python3
"""Writes the data of the `longctx_local` lm-evaluation-harness tasks (our own items, built
deterministically from two public-domain novels in $LONGCTX_ASSETS/corpora; the asset files are
not copied into the repository, so the JSONL is generated at run time):

  cloze.jsonl     multiple choice (loglikelihood): a passage's opening sentences, then its true
                  next sentence among three sentences of similar length from elsewhere in the book
  nextword.jsonl  generate_until: a passage cut inside a sentence; the target is the next word
  books.jsonl     loglikelihood_rolling: long passages (consecutive paragraphs of N words from a
                  random start), scored whole (word/byte perplexity)

usage: make_data.py OUT_DIR [--cloze N] [--nextword N] [--books N] [--book-words W] [--seed S]
"""
import argparse
import json
import os
import random
import re

BOOKS = ["pride_and_prejudice.txt", "frankenstein.txt"]
ABBREV = re.compile(r"\b(Mr|Mrs|Dr|St|Messrs|Sir)\.$")


def assets_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("LONGCTX_ASSETS", os.path.join(here, "..", "..", "..", "shared", "assets"))


def paragraphs(path):
    text = open(path, encoding="utf-8-sig").read().replace("\r\n", "\n")
    out = []
    for block in re.split(r"\n\s*\n", text):
        p = " ".join(block.split())
        if p and not p.lower().startswith("chapter") and not p.startswith("Letter"):
            out.append(p)
    return out


def sentences(par):
    """Split after . ! ? (and a closing quote) before a capital or an opening quote."""
    parts, start = [], 0
    for m in re.finditer(r'[.!?][”’"]?(?= [“"A-Z])', par):
        piece = par[start:m.end()].strip()
        if ABBREV.search(piece):
            continue
        parts.append(piece)
        start = m.end()
    tail = par[start:].strip()
    if tail:
        parts.append(tail)
    return parts


def nwords(s):
    return len(s.split())


def cloze_items(book, pars, rng, n):
    pool = [s for p in pars for s in sentences(p) if 6 <= nwords(s) <= 30]
    cands = []
    for pi, p in enumerate(pars):
        ss = sentences(p)
        for k in range(2, len(ss)):
            ctx = " ".join(ss[:k])
            if 25 <= nwords(ctx) <= 90 and 6 <= nwords(ss[k]) <= 30:
                cands.append((pi, ctx, ss[k]))
                break
    items = []
    for pi, ctx, true in rng.sample(cands, n):
        same = [s for s in pool if abs(nwords(s) - nwords(true)) <= 4 and s != true and s not in ctx]
        choices = rng.sample(same, 3) + [true]
        rng.shuffle(choices)
        items.append({"source": book, "paragraph": pi, "context": ctx, "choices": choices,
                      "label": choices.index(true)})
    return items


def nextword_items(book, pars, rng, n):
    cands = []
    for pi, p in enumerate(pars):
        w = p.split()
        if len(w) < 45:
            continue
        cands.append((pi, w))
    items = []
    for pi, w in rng.sample(cands, len(cands)):
        cuts = [i for i in range(30, min(len(w), 80))
                if re.fullmatch(r"[A-Za-z]{3,}[,;:.!?]?", w[i]) and not re.search(r"[.!?]”?$", w[i - 1])]
        if not cuts:
            continue
        i = rng.choice(cuts)
        items.append({"source": book, "paragraph": pi, "context": " ".join(w[:i]),
                      "target": re.match(r"[A-Za-z]+", w[i]).group(0)})
        if len(items) == n:
            break
    return items


def book_items(book, pars, rng, n, words):
    items = []
    for _ in range(n):
        i = rng.randrange(len(pars))
        text = []
        while i < len(pars) and sum(map(nwords, text)) < words:
            text.append(pars[i])
            i += 1
        items.append({"source": book, "paragraph": i, "text": "\n\n".join(text)})
    return items


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--cloze", type=int, default=40, help="cloze items in all (half per book)")
    ap.add_argument("--nextword", type=int, default=16, help="next-word items in all")
    ap.add_argument("--books", type=int, default=2, help="long passages in all")
    ap.add_argument("--book-words", type=int, default=1200, help="words per long passage")
    ap.add_argument("--seed", type=int, default=20240601)
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    cloze, nextword, books = [], [], []
    for b, book in enumerate(BOOKS):
        path = os.path.join(assets_dir(), "corpora", book)
        if not os.path.exists(path):
            raise SystemExit("%s is absent (set LONGCTX_ASSETS)" % path)
        pars = paragraphs(path)
        rng = random.Random(a.seed + b)
        cloze += cloze_items(book, pars, rng, a.cloze // len(BOOKS) + (b < a.cloze % len(BOOKS)))
        nextword += nextword_items(book, pars, rng,
                                   a.nextword // len(BOOKS) + (b < a.nextword % len(BOOKS)))
        # Its own generator: the other files stay as they were before this one was added.
        books += book_items(book, pars, random.Random(a.seed + 100 + b),
                            a.books // len(BOOKS) + (b < a.books % len(BOOKS)), a.book_words)
    for name, items in (("cloze.jsonl", cloze), ("nextword.jsonl", nextword),
                        ("books.jsonl", books)):
        with open(os.path.join(a.out_dir, name), "w", encoding="utf-8") as f:
            for i, it in enumerate(items):
                f.write(json.dumps({"id": i, **it}, ensure_ascii=False) + "\n")
    print("wrote %d cloze, %d next-word and %d long-passage items to %s"
          % (len(cloze), len(nextword), len(books), a.out_dir))


if __name__ == "__main__":
    main()
