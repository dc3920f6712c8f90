// Pre-tokenizers (PCRE2 regexes named by GGUF tokenizer.ggml.pre) on crafted strings whose
// pieces are worked out by hand from the regexes' semantics; special tokens parsed only when
// asked; add_bos / add_eos; an unknown pre-tokenizer refused with a one-line error.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "formats/gguf_writer.h"
#include "test_util.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace lc {
namespace {

using Pieces = std::vector<std::string>;

// The pieces `name` cuts `text` into, after checking that they cover it exactly, in order.
Pieces split(const std::string& name, const std::string& text) {
  const auto pre = find_pretokenizer(name);
  EXPECT_NE(pre, nullptr) << name;
  if (!pre) return {};
  std::vector<std::pair<size_t, size_t>> ranges;
  pre->split(text, &ranges);
  Pieces out;
  size_t expect_begin = 0;
  for (const auto& [b, e] : ranges) {
    EXPECT_EQ(b, expect_begin) << name << ": pieces must be contiguous";
    EXPECT_LT(b, e) << name << ": empty piece";
    out.push_back(text.substr(b, e - b));
    expect_begin = e;
  }
  EXPECT_EQ(expect_begin, text.size()) << name << ": pieces must cover the text";
  return out;
}

TEST(PreTokenizer, Gpt2) {
  // "  test": \s+(?!\S) leaves the last space for " test"; "\t\n " before a digit likewise.
  EXPECT_EQ(split("gpt2", "Hello world's  test\t\n 12ab!!  x"),
            (Pieces{"Hello", " world", "'s", " ", " test", "\t\n", " 12", "ab", "!!", " ", " x"}));
  // Contractions are lower case only; white space at the end stays one piece.
  EXPECT_EQ(split("gpt2", "DON'T don't a  "), (Pieces{"DON", "'", "T", " don", "'t", " a", "  "}));
  // Unicode categories: precomposed é is a letter, ½ and Arabic-Indic digits are numbers, CJK
  // letters, the llama an other symbol, a combining acute accent is neither letter nor number.
  EXPECT_EQ(split("gpt-2", "caf\u00e9 \u00bd \u0663\u0664 \u4e2d\u6587 \U0001F999 e\u0301x"),
            (Pieces{"caf\u00e9", " \u00bd", " \u0663\u0664", " \u4e2d\u6587", " \U0001F999", " e",
                    "\u0301", "x"}));
  // White space is Unicode White_Space: NBSP and NEL are white space (only ' ' joins a word),
  // U+180E (a format character since Unicode 6.3) is not.
  EXPECT_EQ(split("gpt2", "a\u00a0b\u0085\u0085c\u180e d"),
            (Pieces{"a", "\u00a0", "b", "\u0085", "\u0085", "c", "\u180e", " d"}));
  // The aliases that share GPT-2's regex.
  for (const char* alias : {"mpt", "olmo", "phi-2"})
    EXPECT_EQ(split(alias, "it's 2x"), (Pieces{"it", "'s", " 2", "x"})) << alias;
}

TEST(PreTokenizer, Llama3) {
  // Contractions in any case; a letter run takes one leading non-letter; numbers in threes;
  // punctuation keeps the newlines after it; newline runs keep the spaces before them.
  const Pieces want = {"Hello", " world", "'s",   " ", "123", "45",
                       " don",  "'T",     "\n\n", " ", " x",  "!!\n"};
  for (const char* alias : {"llama3", "llama-bpe", "llama-v3", "dbrx", "smaug-bpe"})
    EXPECT_EQ(split(alias, "Hello world's 12345 don'T\n\n  x!!\n"), want) << alias;
  EXPECT_EQ(split("llama-bpe", "I'M WE'LL\t(x) 1234567"),
            (Pieces{"I", "'M", " WE", "'LL", "\t", "(x", ")", " ", "123", "456", "7"}));
  // 'ſ (U+017F, which case-folds to s) is not a contraction, as llama.cpp spells them out.
  EXPECT_EQ(split("llama3", "it'\u017f"), (Pieces{"it", "'\u017f"}));
  EXPECT_TRUE(find_pretokenizer("llama-bpe")->ignore_merges());
  EXPECT_TRUE(find_pretokenizer("llama-bpe")->adds_bos());
  EXPECT_FALSE(find_pretokenizer("dbrx")->ignore_merges());
}

TEST(PreTokenizer, Qwen2) {
  // Llama 3's regex with single digits.
  EXPECT_EQ(split("qwen2", "Hello world's 12345 don'T\n\n  x!!\n"),
            (Pieces{"Hello", " world", "'s", " ", "1", "2", "3", "4", "5", " don", "'T", "\n\n",
                    " ", " x", "!!\n"}));
  EXPECT_FALSE(find_pretokenizer("qwen2")->adds_bos());
}

TEST(PreTokenizer, SmolLMSplitsEveryDigitFirst) {
  // "\p{N}" first (each number character alone), then GPT-2 on the text between: "b " ends its
  // stretch, so its space is trailing white space, not a prefix of "2".
  for (const char* alias : {"smollm", "starcoder", "refact", "command-r"})
    EXPECT_EQ(split(alias, "a1b 23 c\u00bd"),
              (Pieces{"a", "1", "b", " ", "2", "3", " c", "\u00bd"}))
        << alias;
}

TEST(PreTokenizer, DefaultRunsFourRegexes) {
  // Punctuation runs, then GPT-2 inside the stretches, then number runs, then ASCII digit triples.
  EXPECT_EQ(split("default", "Hello, world!! 12345 x"),
            (Pieces{"Hello", ",", " world", "!!", " ", "123", "45", " x"}));
}

TEST(PreTokenizer, InvalidUtf8AndLongRunsNeverFail) {
  // Bytes that are not UTF-8 match nothing and stand between the matches.
  EXPECT_EQ(split("gpt2", "ab\xff cd\xc3"), (Pieces{"ab", "\xff", " cd", "\xc3"}));
  EXPECT_EQ(split("llama3", "\xe2\x82 x"), (Pieces{"\xe2\x82", " x"}));
  // A megabyte of white space before a word: one piece, then the word with one space.
  const std::string spaces(1 << 20, ' ');
  EXPECT_EQ(split("llama3", spaces + "x"), (Pieces{spaces.substr(1), " x"}));
  EXPECT_EQ(split("gpt2", spaces + "x"), (Pieces{spaces.substr(1), " x"}));
  EXPECT_TRUE(split("qwen2", "").empty());
}

TEST(PreTokenizer, UnknownNameIsNullAndEveryNameIsListed) {
  EXPECT_EQ(find_pretokenizer("no-such-pre"), nullptr);
  const std::string names = supported_pretokenizer_names();
  for (const char* n : {"default", "gpt2", "gpt-2", "llama3", "llama-bpe", "smollm", "qwen2",
                        "starcoder", "refact", "deepseek-llm", "mpt", "olmo"})
    EXPECT_NE(names.find(n), std::string::npos) << n;
}

// A tiny byte-level vocabulary: the printable bytes, a few merges, a control token, a
// user-defined token, BOS = EOS = the control token.
BpeSpec tiny_spec() {
  BpeSpec s;
  for (int b = 33; b < 127; ++b) s.tokens.push_back(bpe_byte_text(static_cast<unsigned char>(b)));
  const int n = static_cast<int>(s.tokens.size());
  s.tokens.push_back(bpe_byte_text(' '));  // n: "Ġ"
  s.tokens.push_back("ab");                // n + 1
  s.tokens.push_back("<|end|>");           // n + 2: control
  s.tokens.push_back("<u>");               // n + 3: user-defined
  s.merges = {"a b"};
  s.types.assign(s.tokens.size(), kPieceNormal);
  s.types[n + 2] = kPieceControl;
  s.types[n + 3] = kPieceUserDefined;
  s.bos_id = s.eos_id = n + 2;
  return s;
}

TEST(SpecialTokens, ParsedFromTextOnlyWhenAsked) {
  const BpeSpec spec = tiny_spec();
  const int n = static_cast<int>(spec.tokens.size()) - 4;
  const int space = n, ab = n + 1, end = n + 2, user = n + 3;
  const auto tok = make_bpe_tokenizer(spec, "tiny");
  const auto byte = [](char c) { return c - 33; };
  EncodeOptions plain;
  EncodeOptions special;
  special.parse_special = true;
  // "<|end|>" is text by default: '<' '|' + "end" + '|' '>' (GPT-2 splits letters from others).
  EXPECT_EQ(tok->encode("ab<|end|>", plain),
            (std::vector<int>{ab, byte('<'), byte('|'), byte('e'), byte('n'), byte('d'), byte('|'),
                              byte('>')}));
  EXPECT_EQ(tok->encode("ab<|end|>", special), (std::vector<int>{ab, end}));
  // User-defined tokens are always matched whole.
  EXPECT_EQ(tok->encode("ab<u> ab", plain), (std::vector<int>{ab, user, space, ab}));
  EXPECT_EQ(tok->encode("ab<u> ab", special), (std::vector<int>{ab, user, space, ab}));
  // Control tokens print only when asked; user-defined tokens always print their text.
  EXPECT_EQ(tok->decode(-1, end), "");
  EXPECT_EQ(tok->decode(-1, end, true), "<|end|>");
  EXPECT_EQ(tok->decode(-1, user), "<u>");
  EXPECT_EQ(tok->decode(-1, space), " ");
}

TEST(SpecialTokens, BosAndEosFollowTheSpec) {
  BpeSpec spec = tiny_spec();
  const int end = static_cast<int>(spec.tokens.size()) - 2, ab = end - 1;
  spec.add_bos = false;
  spec.add_eos = true;
  const auto tok = make_bpe_tokenizer(spec, "tiny");
  EXPECT_FALSE(tok->adds_bos());
  EXPECT_TRUE(tok->adds_eos());
  EXPECT_EQ(tok->encode("ab", tok->file_options()), (std::vector<int>{ab, end}));
  EncodeOptions both;
  both.add_bos = both.add_eos = true;
  EXPECT_EQ(tok->encode("ab", both), (std::vector<int>{end, ab, end}));
  EXPECT_EQ(tok->encode("ab", false), (std::vector<int>{ab}));
}

TEST(SpecialTokens, SentencePieceCutsAtSpecialTokensWithTheDummyPrefixAfterEach) {
  // <unk> <s> </s>, bytes for 'a' 'b' ' ', and "▁a", "▁b".
  std::vector<SpmPiece> pieces = {{"<unk>", 0, kPieceUnknown},
                                  {"<s>", 0, kPieceControl},
                                  {"</s>", 0, kPieceControl},
                                  {"\xE2\x96\x81", -1, kPieceNormal},
                                  {"a", -2, kPieceNormal},
                                  {"b", -2, kPieceNormal},
                                  {"\xE2\x96\x81"
                                   "a",
                                   -0.5f, kPieceNormal},
                                  {"\xE2\x96\x81"
                                   "b",
                                   -0.5f, kPieceNormal}};
  SpmConfig c;
  c.unk_id = 0;
  c.bos_id = 1;
  c.eos_id = 2;
  SpmTokenizer tok(pieces, c, "tiny-spm");
  EncodeOptions special;
  special.parse_special = true;
  // As text, "<s>" has no piece: one unk for the run of unknown characters.
  EXPECT_EQ(tok.encode("a<s>b", EncodeOptions{}), (std::vector<int>{6, 0, 5}));
  // As a token, the text after it starts again with the dummy prefix (llama.cpp).
  EXPECT_EQ(tok.encode("a<s>b", special), (std::vector<int>{6, 1, 7}));
  EXPECT_EQ(tok.decode(-1, 1), "");
  EXPECT_EQ(tok.decode(-1, 1, true), "<s>");
  EXPECT_EQ(tok.decode(-1, 0, true), "<unk>");
}

TEST(SpecialTokens, SmolLM2ChatMarkersOnlyWithParseSpecial) {
  const std::string path = test::asset("real_models/SmolLM2-135M-Instruct.Q4_1.gguf");
  LC_REQUIRE_ASSET(path);
  const auto tok = load_tokenizer(path, 0);
  const std::string chat = "<|im_start|>user\nHi<|im_end|>\n";
  EncodeOptions special;
  special.parse_special = true;
  const auto parsed = tok->encode(chat, special);
  ASSERT_GE(parsed.size(), 4u);
  EXPECT_EQ(parsed.front(), 1);                                         // <|im_start|>
  EXPECT_NE(std::find(parsed.begin(), parsed.end(), 2), parsed.end());  // <|im_end|>
  const auto plain = tok->encode(chat, false);
  EXPECT_EQ(std::find(plain.begin(), plain.end(), 1), plain.end());
  EXPECT_EQ(std::find(plain.begin(), plain.end(), 2), plain.end());
  EXPECT_GT(plain.size(), parsed.size());
  std::string back;
  for (int id : parsed) back += tok->decode(-1, id, true);
  EXPECT_EQ(back, chat);
}

// A byte-level GGUF tokenizer whose tokenizer.ggml.pre is `pre`, written to a temporary file.
// Token 0 is BOS; the file does not say whether sequences start with it.
std::string write_bpe_gguf(const std::string& pre) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(bpe_byte_text(static_cast<unsigned char>(b)));
  const std::string path =
      ::testing::TempDir() + "/longctx_pretok_" + std::to_string(::getpid()) + "_" + pre + ".gguf";
  write_gguf(path,
             {{"tokenizer.ggml.model", gguf_string("gpt2")},
              {"tokenizer.ggml.pre", gguf_string(pre)},
              {"tokenizer.ggml.tokens", gguf_string_array(tokens)},
              {"tokenizer.ggml.bos_token_id", gguf_u32(0)},
              {"tokenizer.ggml.merges", gguf_string_array({})}},
             {});
  return path;
}

TEST(GgufPreTokenizer, UnknownNameIsAOneLineErrorListingTheSupportedOnes) {
  const std::string path = write_bpe_gguf("no-such-pre");
  test::expect_error(
      [&] { load_tokenizer(path, 0); },
      {path, "tokenizer.ggml.pre 'no-such-pre'", "supported: ", "llama-bpe", "smollm", "qwen2"});
  ::unlink(path.c_str());
  // Without tokenizer.ggml.add_bos_token, byte-level BPE adds BOS only for the Llama 3 family.
  const std::string qwen = write_bpe_gguf("qwen2"), llama = write_bpe_gguf("llama-bpe");
  const auto tok = load_tokenizer(qwen, 0);
  EXPECT_FALSE(tok->adds_bos());
  EXPECT_EQ(tok->encode("a12", false), (std::vector<int>{'a', '1', '2'}));
  EXPECT_TRUE(load_tokenizer(llama, 0)->adds_bos());
  ::unlink(qwen.c_str());
  ::unlink(llama.c_str());
}

}  // namespace
}  // namespace lc
