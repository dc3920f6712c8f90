#!/usr/bin/env python3
"""Tokenizers against llama.cpp: `longctx tokenize` vs llama-cpp-python's tokenizer on the same GGUF.

Vocabularies: every vocabulary-only GGUF in $LONGCTX_VOCAB_DIR (llama.cpp's models/ggml-vocab-*.gguf,
which scripts/fetch_vocab.sh extracts from the llama-cpp-python sdist; default ../vocab beside the
repository), those in ASSETS/llamacpp_vocab, and the real SmolLM2 file (pre-tokenizer smollm).
Texts: every corpus in ASSETS/corpora (whole, or its first --max-bytes bytes) and a sample written
below with code, emoji, CJK, combining marks, right-to-left scripts, white-space runs, digit runs,
contractions in upper case and the vocabularies' special-token strings.

For each vocabulary x text x (plain, --special):
  * ids: `longctx tokenize -z VOCAB -f TEXT [--special]` == llama.cpp's tokenize(text,
    add_special=True, parse_special) (BOS/EOS as the file asks, in both);
  * round trip: `longctx tokenize --decode` (the ids decoded back, control tokens printed with
    --special) gives the text again, or else exactly what llama.cpp's token_to_piece makes of the
    same ids (SentencePiece puts a space after each special token, so a text with special tokens
    in it need not come back byte for byte from either engine).
Vocabularies longctx does not load (a tokenizer model or pre-tokenizer it does not support) are
listed with longctx's one-line error and skipped. Exit status 1 on any mismatch.

usage: tokenizer_parity.py LONGCTX ASSETS WORKDIR [--max-bytes N]
"""
import glob
import os
import subprocess
import sys

# Strings that are special tokens in one vocabulary or another.
SPECIAL_STRINGS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<s>", "</s>", "<unk>", "<|begin_of_text|>",
    "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<fim_prefix>", "<fim_middle>",
    "<|padding|>", "<｜begin▁of▁sentence｜>", "<|START_OF_TURN_TOKEN|>", ">>TITLE<<",
    "[PAD151646]", "<repo_name>", "<|reserved_special_token_5|>",
]


def sample_text():
    """Text that exercises each regex alternative, written out piece by piece."""
    parts = [
        # Code, with its indentation, operators and brackets.
        "def tokenize(text: str) -> list[int]:\n    if not text:\n        return []\n"
        "\treturn [ord(c) for c in text if c != '\\n']  # comment\n",
        "int main(int argc, char** argv) { std::printf(\"%d\\n\", argc << 2); return 0; }\r\n",
        "x+=1;y-=2;z*=3;a/=4;b%=5;c&&d||e!=f==g<=h>=i->j::k...l;;;",
        # Emoji: plain, with skin tone, ZWJ family, flags, keycap.
        "emoji: 🦙 😀😃 👍🏽 👨‍👩‍👧‍👦 🇫🇷🇯🇵 1️⃣ ❤️ ✨🚀\n",
        # CJK: Chinese, Japanese (kanji, hiragana, katakana), Korean, full-width forms.
        "中文分词测试，你好世界！日本語のテキスト、カタカナ。한국어 텍스트입니다. ＡＢＣ１２３\n",
        # Combining marks: decomposed accents, Vietnamese, Devanagari with virama, Thai.
        "cafe\u0301 re\u0301sume\u0301 Tiê\u0301ng Việt हिन्दी क्षत्रिय ภาษาไทย a\u0308\u0304\n",
        # Right-to-left: Arabic with its digits, Hebrew with points.
        "العربية: مرحبا بالعالم ١٢٣٤٥ — עברית: שָׁלוֹם עוֹלָם\n",
        # White-space runs: spaces, tabs, CR LF, blank lines, NBSP, ideographic, thin, NEL.
        "a  b   c    d\t\te \t f\r\n\r\ng\n\n\nh" + " " * 40 + "i\u00a0j\u3000k\u2009l\u0085m \n \n",
        "trailing spaces   \n   leading spaces\n\t\n",
        # Digit runs of every length, other number characters.
        "1 12 123 1234 12345 123456 1234567 3.14159 1,000,000 0x1F ² ½ Ⅻ ٣ ４５６ 2023-12-06\n",
        # Contractions in every case, and apostrophes that are not contractions.
        "I'M sure WE'LL see THEY'RE right, IT'S you'D DON'T can't Won'T I'vE o'clock 'S '' ’s\n",
        # Special-token strings, alone and glued to words.
        " ".join(SPECIAL_STRINGS) + "\n" + "x".join(SPECIAL_STRINGS) + "\n",
        # Punctuation and symbol runs, quotes, math.
        "!!! ??? ... --- === <<< >>> ((( ))) [[[ ]]] {{{ }}} $$$ %%% ^^^ ~~~ ||| `` \"\" ''\n",
        "∑∫√∞ ≤≥≠ → ⇒ ©®™ °C €£¥ §¶ •·…\n",
        # Greek, Cyrillic, Armenian, Georgian, Latin with diacritics.
        "Ελληνικά Русский язык Հայերեն ქართული Ærøskøbing Łódź Ñandú ß ﬁ\n",
    ]
    return "".join(parts)


def vocab_files(assets):
    found = {}
    vocab_dir = os.environ.get("LONGCTX_VOCAB_DIR") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "..", "vocab")
    for d in (os.path.join(assets, "llamacpp_vocab"), vocab_dir):
        for f in sorted(glob.glob(os.path.join(d, "*.gguf"))):
            found[os.path.basename(f)] = f  # the vocab directory wins over the assets' copy
    smol = os.path.join(assets, "real_models", "SmolLM2-135M-Instruct.Q4_1.gguf")
    if os.path.exists(smol):
        found[os.path.basename(smol)] = smol
    if not os.path.isdir(vocab_dir):
        print(f"tokenizer parity: {vocab_dir} absent (scripts/fetch_vocab.sh fills it): "
              "llama-bpe, qwen2 and the other llama.cpp vocabularies are not checked")
    return found


def first_diff(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def main():
    exe, assets, work = sys.argv[1:4]
    max_bytes = 0
    if "--max-bytes" in sys.argv:
        max_bytes = int(sys.argv[sys.argv.index("--max-bytes") + 1])
    import llama_cpp

    texts = {}
    for corpus in sorted(glob.glob(os.path.join(assets, "corpora", "*.txt"))):
        data = open(corpus, "rb").read()
        if max_bytes and len(data) > max_bytes:
            # Cut at a character boundary.
            data = data[:max_bytes].decode("utf-8", "ignore").encode("utf-8")
        texts[os.path.basename(corpus)] = data
    texts["sample"] = sample_text().encode("utf-8")
    paths = {}
    for name, data in texts.items():
        paths[name] = os.path.join(work, "tokparity_" + name)
        open(paths[name], "wb").write(data)

    failures = 0
    rows = []
    for vname, vpath in vocab_files(assets).items():
        probe = subprocess.run([exe, "tokenize", "-z", vpath, "-p", "x"], capture_output=True,
                               text=True)
        if probe.returncode != 0:
            print(f"{vname}: skipped, longctx: {probe.stderr.strip()}")
            continue
        try:
            llm = llama_cpp.Llama(model_path=vpath, vocab_only=True, verbose=False)
        except Exception as e:  # noqa: BLE001 - llama.cpp refuses the file
            print(f"{vname}: skipped, llama.cpp cannot load it: {e}")
            continue
        vocab = llm._model.vocab
        is_spm = llama_cpp.llama_vocab_type(vocab) == llama_cpp.LLAMA_VOCAB_TYPE_SPM
        buf = (llama_cpp.ctypes.c_char * 4096)()

        def piece(tok, special):
            n = llama_cpp.llama_token_to_piece(vocab, tok, buf, len(buf), 0, special)
            return bytes(buf[:n])

        bos, eos = llm.token_bos(), llm.token_eos()
        add_bos = llama_cpp.llama_vocab_get_add_bos(vocab)
        add_eos = llama_cpp.llama_vocab_get_add_eos(vocab)
        for tname, data in texts.items():
            for special in (False, True):
                flags = ["--special"] if special else []
                r = subprocess.run([exe, "tokenize", "-z", vpath, "-f", paths[tname]] + flags,
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    print(f"{vname} {tname}: longctx failed: {r.stderr.strip()}")
                    failures += 1
                    continue
                ours = [int(t) for t in r.stdout.strip().split(",")] if r.stdout.strip() else []
                theirs = llm.tokenize(data, add_bos=True, special=special)
                same_ids = ours == theirs
                # Round trip: the text's own ids decoded back.
                d = subprocess.run([exe, "tokenize", "-z", vpath, "-f", paths[tname], "--decode"]
                                   + flags, capture_output=True)
                back = d.stdout
                body = theirs[1 if add_bos and theirs[:1] == [bos] else 0:]
                if add_eos and body[-1:] == [eos]:
                    body = body[:-1]
                lc = b"".join(piece(t, special) for t in body)
                if is_spm and lc.startswith(b" "):
                    lc = lc[1:]  # llama.cpp's detokenize drops the dummy-prefix space
                round_trip = "identical" if back == data else (
                    "as llama.cpp" if back == lc else "DIFFERS")
                ok = same_ids and round_trip != "DIFFERS" and d.returncode == 0
                failures += not ok
                mode = "special" if special else "plain"
                rows.append((vname, tname, mode, len(ours), len(theirs), same_ids, round_trip))
                line = (f"{vname:38s} {tname:30s} {mode:7s} ids {len(ours):7d} vs {len(theirs):7d}"
                        f" {'identical' if same_ids else 'DIFFER'}  round trip {round_trip}")
                if not same_ids:
                    k = first_diff(ours, theirs)
                    line += (f"\n    first difference at id {k}: longctx {ours[k:k + 6]}, "
                             f"llama.cpp {theirs[k:k + 6]} (text near "
                             f"{b''.join(piece(t, True) for t in theirs[max(0, k - 3):k + 3])!r})")
                print(line, flush=True)
        del llm
    print("\nper vocabulary (runs with identical ids / runs, ids compared, round trips):")
    for v in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == v]
        print(f"  {v:38s} {sum(r[5] for r in mine):3d}/{len(mine):3d}  "
              f"{sum(r[4] for r in mine):9d} ids  round trip "
              f"{sum(r[6] == 'identical' for r in mine)} identical, "
              f"{sum(r[6] == 'as llama.cpp' for r in mine)} as llama.cpp, "
              f"{sum(r[6] == 'DIFFERS' for r in mine)} differ")
    identical = sum(1 for r in rows if r[5])
    trips = sum(1 for r in rows if r[6] != "DIFFERS")
    print(f"tokenizer parity: ids identical in {identical}/{len(rows)} runs, round trip in "
          f"{trips}/{len(rows)} ({len(set(r[0] for r in rows))} vocabularies x {len(texts)} texts "
          f"x plain/special{', corpora cut to %d bytes' % max_bytes if max_bytes else ''})")
    print(f"tokenizer parity: {'PASS' if failures == 0 else 'FAIL'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
