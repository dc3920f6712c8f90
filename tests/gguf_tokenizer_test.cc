// Tokenizers embedded in llama.cpp's vocabulary-only GGUF files (and the GPT-2 vocab.json +
// merges.txt pair) against llama.cpp's expected ids for every test input: the files in
// ../shared/assets, and every file in the vocabulary folder (test::vocab_dir(): llama-bpe,
// qwen2, starcoder, ...). Skipped, naming the file, when they are absent.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "test_util.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace lc {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Case {
  std::string text, expected;
};

// Inputs each followed by "\n__ggml_vocab_test__\n"; the .out has one line of ids per input.
std::vector<Case> read_cases(const std::string& vocab) {
  const std::string inp = read_text(vocab + ".inp"), sep = "\n__ggml_vocab_test__\n";
  std::vector<Case> cases;
  for (size_t pos = 0; pos < inp.size();) {
    const size_t end = inp.find(sep, pos);
    if (end == std::string::npos) break;
    cases.push_back({inp.substr(pos, end - pos), ""});
    pos = end + sep.size();
  }
  // Ids separated by spaces, with or without a leading one (normalized to " a b c").
  std::istringstream out(read_text(vocab + ".out"));
  std::string line;
  for (auto& c : cases) {
    if (!std::getline(out, line)) break;
    std::istringstream ids(line);
    for (std::string id; ids >> id;) c.expected += " " + id;
  }
  return cases;
}

std::string join(const std::vector<int>& ids) {
  std::string s;
  for (int id : ids) s += " " + std::to_string(id);
  return s;
}

void check_cases(const Tokenizer& tok, const std::string& vocab, bool round_trip) {
  const auto cases = read_cases(vocab);
  ASSERT_GE(cases.size(), 30u);
  int passed = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto ids = tok.encode(cases[i].text, false);
    EXPECT_EQ(join(ids), cases[i].expected)
        << vocab << " case " << i << ": '" << cases[i].text << "'";
    passed += join(ids) == cases[i].expected;
    if (round_trip) {
      std::string back;
      for (int id : ids) back += tok.decode(-1, id);
      EXPECT_EQ(back, cases[i].text) << "case " << i;
    }
  }
  std::printf("[ vocab ] %s: %d / %zu cases reproduced\n", vocab.c_str(), passed, cases.size());
}

TEST(GgufTokenizer, LlamaSpmReproducesEveryCase) {
  const std::string v = test::asset("llamacpp_vocab/ggml-vocab-llama-spm.gguf");
  LC_REQUIRE_ASSET(v);
  const auto tok = load_tokenizer(v, 0);
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  check_cases(*tok, v, false);
}

TEST(GgufTokenizer, Gpt2ReproducesEveryCase) {
  const std::string v = test::asset("llamacpp_vocab/ggml-vocab-gpt-2.gguf");
  LC_REQUIRE_ASSET(v);
  const auto tok = load_tokenizer(v, 0);
  EXPECT_EQ(tok->vocab_size(), 50257);
  check_cases(*tok, v, true);
}

TEST(GgufTokenizer, MptReproducesEveryCase) {
  const std::string v = test::asset("llamacpp_vocab/ggml-vocab-mpt.gguf");
  LC_REQUIRE_ASSET(v);
  check_cases(*load_tokenizer(v, 0), v, true);
}

// Every ggml-vocab-*.gguf with .inp/.out cases in the vocabulary folder whose tokenizer longctx
// supports (llama = SentencePiece, gpt2 = byte-level BPE with a known pre-tokenizer); the others
// must be refused with an lc::Error naming the file. Byte-level BPE cases also round-trip.
TEST(GgufTokenizer, EveryLlamaCppVocabularyReproducesItsCases) {
  namespace fs = std::filesystem;
  const std::string dir = test::vocab_dir();
  if (!fs::is_directory(dir))
    GTEST_SKIP() << "vocabulary folder not found: " << dir
                 << " (scripts/fetch_vocab.sh fills it; or set LONGCTX_VOCAB_DIR)";
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string p = e.path().string();
    if (p.size() > 5 && p.compare(p.size() - 5, 5, ".gguf") == 0 && test::file_exists(p + ".inp") &&
        test::file_exists(p + ".out"))
      files.push_back(p);
  }
  std::sort(files.begin(), files.end());
  int checked = 0;
  for (const std::string& v : files) {
    std::unique_ptr<Tokenizer> tok;
    try {
      tok = load_tokenizer(v, 0);
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(v), std::string::npos) << msg;
      EXPECT_NE(msg.find("not"), std::string::npos) << msg;  // "... is not supported"
      std::printf("[ vocab ] %s: not supported: %s\n", v.c_str(), msg.c_str());
      continue;
    }
    const bool byte_level = dynamic_cast<const SpmTokenizer*>(tok.get()) == nullptr;
    check_cases(*tok, v, byte_level);
    ++checked;
  }
  // llama-spm, gpt-2, mpt at least; with llama.cpp's folder also llama-bpe, qwen2, starcoder, ...
  EXPECT_GE(checked, 3) << dir;
}

TEST(BpeTokenizer, Gpt2VocabMergesFilesMatchGgufVectors) {
  const std::string vocab = test::asset("gpt2_bpe/gpt2_vocab.json");
  const std::string merges = test::asset("gpt2_bpe/gpt2_merges.txt");
  const std::string v = test::asset("llamacpp_vocab/ggml-vocab-gpt-2.gguf");
  LC_REQUIRE_ASSET(vocab);
  LC_REQUIRE_ASSET(merges);
  LC_REQUIRE_ASSET(v);
  const auto tok = load_bpe_vocab_merges(vocab, merges);
  EXPECT_EQ(tok->vocab_size(), 50257);
  EXPECT_EQ(tok->eos_id(), 50256);
  check_cases(*tok, v, true);
}

// The same GPT-2 vocabulary as a Hugging Face tokenizer.json (model.vocab + model.merges as
// "left right" strings), assembled here from vocab.json and merges.txt.
TEST(BpeTokenizer, HfTokenizerJsonMatchesGgufVectors) {
  const std::string vocab = test::asset("gpt2_bpe/gpt2_vocab.json");
  const std::string merges = test::asset("gpt2_bpe/gpt2_merges.txt");
  const std::string v = test::asset("llamacpp_vocab/ggml-vocab-gpt-2.gguf");
  LC_REQUIRE_ASSET(vocab);
  LC_REQUIRE_ASSET(merges);
  LC_REQUIRE_ASSET(v);
  std::string json =
      "{\"version\": \"1.0\", \"added_tokens\": [], \"model\": {\"type\": \"BPE\", \"vocab\": ";
  json += read_text(vocab);
  json += ", \"merges\": [";
  std::istringstream in(read_text(merges));
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    json += first ? "\"" : ", \"";
    first = false;
    for (char ch : line) {
      if (ch == '"' || ch == '\\') json += '\\';
      json += ch;
    }
    json += "\"";
  }
  json += "]}}";
  const std::string path =
      ::testing::TempDir() + "/longctx_tokenizer_" + std::to_string(::getpid()) + ".json";
  std::ofstream(path, std::ios::binary) << json;
  const auto tok = load_hf_tokenizer_json(path);
  EXPECT_EQ(tok->vocab_size(), 50257);
  check_cases(*tok, v, true);
}

TEST(BpeTokenizer, HandBuiltMergesAndPretokenizer) {
  // Bytes map to themselves for printable ASCII; ' ' is U+0120 ("Ġ").
  BpeSpec s;
  s.tokens = {"a",
              "b",
              "\xC4\xA0",
              "ab",
              "\xC4\xA0"
              "ab",
              "'",
              "s",
              "'s",
              "1"};
  s.merges = {"a b", "\xC4\xA0 ab", "' s"};
  auto tok = make_bpe_tokenizer(s, "hand");
  EXPECT_EQ(tok->encode("ab ab's", false), (std::vector<int>{3, 4, 7}));
  EXPECT_EQ(tok->encode("a1", false), (std::vector<int>{0, 8}));
  EXPECT_EQ(tok->decode(-1, 4), " ab");
  // Bytes without a token are dropped rather than crashing; any byte string is accepted.
  EXPECT_NO_THROW(tok->encode(std::string("\xFF\x00zz", 4), true));
}

}  // namespace
}  // namespace lc
