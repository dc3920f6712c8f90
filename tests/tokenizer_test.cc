// Tokenizer tests: a hand-computed vocabulary and a slow reference encoder (always run), malformed
// files (always run, built in memory), and the real Llama / tok512 tokenizers against llama.cpp's
// test vectors (skipped, saying which file is missing, when ../shared/assets is absent).
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace lc {
namespace {

const std::string kSp = "\xE2\x96\x81";  // U+2581

std::string assets_dir() {
  const char* env = std::getenv("LONGCTX_ASSETS");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(LONGCTX_DEFAULT_ASSETS);
}

std::string asset(const std::string& rel) { return assets_dir() + "/" + rel; }
bool have(const std::string& path) { return std::filesystem::is_regular_file(path); }

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string join(const std::vector<int>& ids) {
  std::string s;
  for (const int id : ids) s += " " + std::to_string(id);
  return s;
}

// Concatenated decode of ids, each piece decoded after its predecessor. A leading BOS is not
// decoded itself (llama2.c prints its .bin BOS piece "\n<s>\n"), only used as the predecessor.
std::string decode_all(const Tokenizer& tok, const std::vector<int>& ids) {
  std::string s;
  int prev = -1;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0 || ids[i] != tok.bos_id()) s += tok.decode(prev, ids[i]);
    prev = ids[i];
  }
  return s;
}

// ---- builders for files in both formats ------------------------------------------------------

void put_i32(std::string* s, int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>((u >> (8 * i)) & 0xFF));
}
void put_f32(std::string* s, float f) {
  int32_t v;
  std::memcpy(&v, &f, 4);
  put_i32(s, v);
}

// llama2.c tokenizer.bin; pieces spell spaces as ' '.
std::string make_bin(const std::vector<SpmPiece>& pieces) {
  std::string s;
  int32_t max_len = 0;
  for (const auto& p : pieces) max_len = std::max<int32_t>(max_len, int32_t(p.text.size()));
  put_i32(&s, max_len);
  for (const auto& p : pieces) {
    put_f32(&s, p.score);
    put_i32(&s, static_cast<int32_t>(p.text.size()));
    s += p.text;
  }
  return s;
}

void put_varint(std::string* s, uint64_t v) {
  while (v >= 0x80) {
    s->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  s->push_back(static_cast<char>(v));
}
void put_key(std::string* s, int field, int wire) { put_varint(s, uint64_t(field) << 3 | wire); }
void put_len(std::string* s, int field, const std::string& payload) {
  put_key(s, field, 2);
  put_varint(s, payload.size());
  *s += payload;
}

struct ModelOptions {
  int model_type = 2;
  bool byte_fallback = true;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = false;
  bool with_trainer_spec = true;
  int unk_id = 0;
};

// SentencePiece ModelProto; pieces spell spaces as U+2581.
std::string make_model(const std::vector<SpmPiece>& pieces, const ModelOptions& o) {
  std::string s;
  for (const auto& p : pieces) {
    std::string m;
    put_len(&m, 1, p.text);
    put_key(&m, 2, 5);
    int32_t bits;
    std::memcpy(&bits, &p.score, 4);
    put_i32(&m, bits);
    put_key(&m, 3, 0);
    put_varint(&m, static_cast<uint64_t>(p.type));
    put_len(&s, 1, m);
  }
  std::string trainer;
  put_key(&trainer, 3, 0);
  put_varint(&trainer, static_cast<uint64_t>(o.model_type));
  put_key(&trainer, 40, 0);
  put_varint(&trainer, static_cast<uint64_t>(o.unk_id));
  put_key(&trainer, 35, 0);
  put_varint(&trainer, o.byte_fallback ? 1 : 0);
  put_key(&trainer, 43, 0);
  put_varint(&trainer, static_cast<uint64_t>(int64_t{-1}));  // pad_id -1: a 10-byte varint
  put_len(&trainer, 44, " \xE2\x81\x87 ");                   // an unread field: skipped
  if (o.with_trainer_spec) put_len(&s, 2, trainer);
  std::string normalizer;
  put_len(&normalizer, 1, "identity");
  put_key(&normalizer, 3, 0);
  put_varint(&normalizer, o.add_dummy_prefix ? 1 : 0);
  put_key(&normalizer, 4, 0);
  put_varint(&normalizer, o.remove_extra_whitespaces ? 1 : 0);
  put_len(&s, 3, normalizer);
  return s;
}

// A small vocabulary whose merges are worked out by hand below. Ids 0..2 unk/BOS/EOS, then:
//   3 a 0 | 4 b 0 | 5 c 0 | 6 ▁ 0 | 7 ab -1 | 8 bc -0.5 | 9 abc -2 | 10 ▁a -3 | 11 ▁abc -4
//   12 cc -0.5 | 13.. <0x00>..<0xFF> when with_bytes.
std::vector<SpmPiece> hand_vocab(bool with_bytes) {
  std::vector<SpmPiece> v = {
      {"<unk>", 0, 2},    {"<s>", 0, 3},        {"</s>", 0, 3},  {"a", 0, 1},      {"b", 0, 1},
      {"c", 0, 1},        {kSp, 0, 1},          {"ab", -1, 1},   {"bc", -0.5f, 1}, {"abc", -2, 1},
      {kSp + "a", -3, 1}, {kSp + "abc", -4, 1}, {"cc", -0.5f, 1}};
  if (with_bytes) {
    for (int b = 0; b < 256; ++b) {
      char text[8];
      std::snprintf(text, sizeof text, "<0x%02X>", b);
      v.push_back({text, 0, 6});
    }
  }
  return v;
}
constexpr int kByte0 = 13;

TEST(TokenizerHandcrafted, MergesComputedByHand) {
  const auto tok = make_spm_tokenizer(hand_vocab(true), 1, 2, 0, true);
  EXPECT_EQ(tok->vocab_size(), 13 + 256);
  // "▁abc": pairs ▁a -3, ab -1, bc -0.5 -> bc; then ▁a -3, a+bc = abc -2 -> abc; then ▁abc -4.
  EXPECT_EQ(tok->encode("abc", false), (std::vector<int>{11}));
  EXPECT_EQ(tok->encode("abc", true), (std::vector<int>{1, 11}));
  // "▁abcc": bc and cc tie at -0.5, the leftmost (bc) wins -> ▁ a bc c -> ▁ abc c -> ▁abc c.
  // (Merging cc first would give ▁ ab cc.)
  EXPECT_EQ(tok->encode("abcc", false), (std::vector<int>{11, 5}));
  // "▁ab▁d": ab -1 first, then ▁a is no longer adjacent to a lone a; d falls back to <0x64>.
  EXPECT_EQ(tok->encode("ab d", false), (std::vector<int>{6, 7, 6, kByte0 + 'd'}));
  // Invalid UTF-8 and a multibyte character without a piece go to byte fallback byte by byte.
  EXPECT_EQ(tok->encode("\xFF\xC3\xA9", false),
            (std::vector<int>{6, kByte0 + 0xFF, kByte0 + 0xC3, kByte0 + 0xA9}));
  EXPECT_TRUE(tok->encode("", false).empty());
  EXPECT_EQ(tok->encode("", true), (std::vector<int>{1}));

  EXPECT_EQ(tok->decode(-1, 11), " abc");
  EXPECT_EQ(tok->decode(1, 11), "abc");  // after BOS the leading space goes
  EXPECT_EQ(tok->decode(1, 6), "");
  EXPECT_EQ(tok->decode(-1, kByte0 + 'd'), "d");
  EXPECT_EQ(tok->decode(1, kByte0 + ' '), " ");  // a byte piece keeps its space
  EXPECT_EQ(tok->decode(-1, 0), "");
  EXPECT_EQ(tok->decode(-1, 1), "");
  EXPECT_EQ(tok->decode(-1, 2), "");
  EXPECT_EQ(tok->decode(-1, -5), "");
  EXPECT_EQ(tok->decode(-1, 100000), "");
  EXPECT_EQ(decode_all(*tok, tok->encode("abcc ab d\xFF", true)), "abcc ab d\xFF");
}

TEST(TokenizerHandcrafted, NoDummyPrefixUnkAndUserDefined) {
  // Without byte pieces unknown characters become unk, one unk per run.
  const auto no_bytes = make_spm_tokenizer(hand_vocab(false), 1, 2, 0, false);
  EXPECT_EQ(no_bytes->encode("abc", false), (std::vector<int>{9}));  // no ▁ prefix
  EXPECT_EQ(no_bytes->encode("dd a\xFF", false), (std::vector<int>{0, 10, 0}));

  // A user-defined piece is matched whole and never merged with its neighbours.
  auto vocab = hand_vocab(true);
  vocab.push_back({"bcx", 0, 4});
  const int user_id = static_cast<int>(vocab.size()) - 1;
  const auto user = make_spm_tokenizer(vocab, 1, 2, 0, true);
  EXPECT_EQ(user->encode("abcxc", false), (std::vector<int>{10, user_id, 5}));
  EXPECT_EQ(user->decode(-1, user_id), "bcx");
}

TEST(TokenizerHandcrafted, BinAndModelFormatsAgree) {
  auto spm = hand_vocab(true);
  auto bin = spm;
  for (auto& p : bin) {
    std::string t;
    for (size_t i = 0; i < p.text.size();) {
      if (p.text.compare(i, kSp.size(), kSp) == 0) {
        t += ' ';
        i += kSp.size();
      } else {
        t += p.text[i++];
      }
    }
    p.text = t;
  }
  bin[1].text = "\n<s>\n";  // as llama2.c exports them
  bin[2].text = "\n</s>\n";
  const std::string bin_bytes = make_bin(bin);
  const std::string model_bytes = make_model(spm, ModelOptions{});
  const auto from_bin = load_tokenizer_from_memory(
      reinterpret_cast<const uint8_t*>(bin_bytes.data()), bin_bytes.size(), "hand.bin", 0);
  const auto from_model = load_tokenizer_from_memory(
      reinterpret_cast<const uint8_t*>(model_bytes.data()), model_bytes.size(), "hand.model", 0);
  EXPECT_EQ(from_bin->vocab_size(), 13 + 256);
  EXPECT_EQ(from_model->vocab_size(), 13 + 256);
  EXPECT_EQ(from_bin->bos_id(), 1);
  EXPECT_EQ(from_bin->eos_id(), 2);
  EXPECT_EQ(from_model->bos_id(), 1);
  for (const std::string text : {"abc", "abcc", "ab d", " a  bc\n", "\xFF\xC3\xA9 cab"}) {
    const auto ids = from_model->encode(text, true);
    EXPECT_EQ(from_bin->encode(text, true), ids) << text;
    EXPECT_EQ(decode_all(*from_bin, ids), text);
    EXPECT_EQ(decode_all(*from_model, ids), text);
  }
  // llama2.c prints control pieces as stored; SentencePiece control pieces decode to nothing.
  EXPECT_EQ(from_bin->decode(-1, 2), "\n</s>\n");
  EXPECT_EQ(from_model->decode(-1, 2), "");
}

TEST(TokenizerHandcrafted, RemoveExtraWhitespaces) {
  ModelOptions o;
  o.remove_extra_whitespaces = true;
  const std::string bytes = make_model(hand_vocab(true), o);
  const auto tok = load_tokenizer_from_memory(reinterpret_cast<const uint8_t*>(bytes.data()),
                                              bytes.size(), "ws.model", 0);
  EXPECT_EQ(tok->encode("  ab   abc ", false), tok->encode("ab abc", false));
  EXPECT_TRUE(tok->encode("   ", false).empty());
}

// ---- the fast encoder against a slow, obvious one (llama2.c's rescan loop) -------------------

std::vector<int> reference_encode(const std::vector<SpmPiece>& vocab, const std::string& text) {
  std::unordered_map<std::string, int> ids;
  for (size_t i = 0; i < vocab.size(); ++i) {
    if (vocab[i].type == 1) ids.emplace(vocab[i].text, static_cast<int>(i));
  }
  std::vector<std::string> sym;
  if (!text.empty()) sym.push_back(kSp);
  for (const char c : text) sym.push_back(c == ' ' ? kSp : std::string(1, c));
  while (true) {
    float best = -1e30f;
    size_t at = SIZE_MAX;
    for (size_t i = 0; i + 1 < sym.size(); ++i) {
      const auto it = ids.find(sym[i] + sym[i + 1]);
      if (it != ids.end() && vocab[it->second].score > best) {
        best = vocab[it->second].score;
        at = i;
      }
    }
    if (at == SIZE_MAX) break;
    sym[at] += sym[at + 1];
    sym.erase(sym.begin() + static_cast<ptrdiff_t>(at) + 1);
  }
  std::vector<int> out;
  for (const auto& s : sym) {
    const auto it = ids.find(s);
    out.push_back(it != ids.end() ? it->second : 0);
  }
  return out;
}

TEST(TokenizerHandcrafted, MatchesSlowReferenceOnRandomVocabularies) {
  std::mt19937 rng(1234);
  const std::string alphabet = "ab c";
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<SpmPiece> vocab = {{"<unk>", 0, 2}, {"<s>", 0, 3}, {"</s>", 0, 3}};
    std::map<std::string, bool> seen;
    for (const char c : alphabet) {
      const std::string t = c == ' ' ? kSp : std::string(1, c);
      seen[t] = true;
      vocab.push_back({t, 0, 1});
    }
    // Pieces built from concatenations of existing ones (as BPE training does); scores from a
    // small set so that ties occur often.
    const int n_merges = 5 + static_cast<int>(rng() % 30);
    for (int m = 0; m < n_merges; ++m) {
      const auto& x = vocab[3 + rng() % (vocab.size() - 3)].text;
      const auto& y = vocab[3 + rng() % (vocab.size() - 3)].text;
      const std::string t = x + y;
      if (seen[t]) continue;
      seen[t] = true;
      vocab.push_back({t, -static_cast<float>(rng() % 6), 1});
    }
    const auto tok = make_spm_tokenizer(vocab, 1, 2, 0, true);
    for (int k = 0; k < 10; ++k) {
      std::string text;
      const size_t len = rng() % 40;
      for (size_t i = 0; i < len; ++i) text += alphabet[rng() % alphabet.size()];
      ASSERT_EQ(join(tok->encode(text, false)), join(reference_encode(vocab, text)))
          << "trial " << trial << " text '" << text << "'";
    }
  }
}

// ---- malformed files -------------------------------------------------------------------------

// Writes `bytes` to a file named `file` and expects load_tokenizer to throw lc::Error whose
// message names the file and contains `fragment`.
void expect_load_error(const std::string& file, const std::string& bytes, int hint,
                       const std::string& fragment) {
  const std::string path = ::testing::TempDir() + file;
  write_file(path, bytes);
  try {
    load_tokenizer(path, hint);
    ADD_FAILURE() << file << ": expected lc::Error containing '" << fragment << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
  }
  std::filesystem::remove(path);
}

TEST(TokenizerMalformed, Llama2cBin) {
  const std::string good = make_bin(
      {{"<unk>", 0, 1}, {"\n<s>\n", 0, 1}, {"\n</s>\n", 0, 1}, {"a", 0, 1}, {" a", -1, 1}});
  EXPECT_EQ(load_tokenizer_from_memory(reinterpret_cast<const uint8_t*>(good.data()), good.size(),
                                       "good.bin", 5)
                ->vocab_size(),
            5);
  expect_load_error("tok_empty.bin", "", 0, "empty");
  expect_load_error("tok_short_header.bin", "\x05\x00", 0, "header");
  for (size_t cut : {5u, 9u, 13u, 20u}) {
    expect_load_error("tok_truncated" + std::to_string(cut) + ".bin", good.substr(0, cut), 0, "");
  }
  expect_load_error("tok_truncated_hint.bin", good.substr(0, good.size() - 1), 5, "");
  std::string negative_max = good;
  negative_max[3] = '\xFF';
  expect_load_error("tok_negative_max.bin", negative_max, 0, "max_token_length");
  std::string huge_max = good;
  huge_max[3] = '\x7F';
  expect_load_error("tok_huge_max.bin", huge_max, 0, "max_token_length");
  std::string negative_len = good;
  negative_len[8 + 3] = '\xFF';  // piece 0's length field
  expect_load_error("tok_negative_len.bin", negative_len, 0, "length -");
  std::string huge_len = good;
  huge_len[8 + 3] = '\x7F';
  expect_load_error("tok_huge_len.bin", huge_len, 0, "length");
  // A length within max_token_length that runs past the end of the file.
  std::string past_end = good.substr(0, good.size() - 2);
  expect_load_error("tok_past_end.bin", past_end, 0, "past the end");
  expect_load_error("tok_hint_big.bin", good, 6, "expected vocab_size 6");
  expect_load_error("tok_hint_small.bin", good, 4, "bytes left after 4 pieces");
  expect_load_error("tok_hint_negative.bin", good, -1, "vocab_size_hint");
  expect_load_error("tok_two_pieces.bin", make_bin({{"<unk>", 0, 1}, {"a", 0, 1}}), 0,
                    "at least 3");
  std::string nan_score = good;  // piece 0's score becomes a quiet NaN
  nan_score.replace(4, 4, std::string("\x00\x00\xC0\x7F", 4));
  expect_load_error("tok_nan.bin", nan_score, 0, "NaN");
  try {
    load_tokenizer(::testing::TempDir() + "tok_does_not_exist.bin", 0);
    ADD_FAILURE() << "expected lc::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tok_does_not_exist.bin"), std::string::npos);
  }
}

TEST(TokenizerMalformed, SentencePieceModel) {
  const auto vocab = hand_vocab(true);
  const std::string good = make_model(vocab, ModelOptions{});
  EXPECT_EQ(load_tokenizer_from_memory(reinterpret_cast<const uint8_t*>(good.data()), good.size(),
                                       "good.model", 13 + 256)
                ->vocab_size(),
            13 + 256);
  for (size_t cut : {size_t{3}, size_t{7}, size_t{20}, good.size() / 2, good.size() - 1}) {
    expect_load_error("tok_truncated" + std::to_string(cut) + ".model", good.substr(0, cut), 0, "");
  }
  expect_load_error("tok_bad_varint.model",
                    std::string("\x0A\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x01", 12), 0,
                    "varint");
  expect_load_error("tok_varint_at_end.model", std::string("\x0A\x0E\x0A\x85", 4), 0, "");
  expect_load_error("tok_len_past_end.model", "\x0A\x7F\x0A\x01x", 0, "past the end");
  expect_load_error("tok_group.model", "\x0A\x03\x0B\x01x", 0, "wire type 3");
  expect_load_error("tok_wrong_wire.model", "\x0A\x02\x10\x01", 0, "wire type");  // piece=varint

  ModelOptions no_trainer;
  no_trainer.with_trainer_spec = false;
  expect_load_error("tok_no_trainer.model", make_model(vocab, no_trainer), 0, "trainer_spec");
  expect_load_error("tok_field_zero.model",
                    make_model(vocab, no_trainer) + "\x12\x02" + std::string(1, '\0') + "\x01", 0,
                    "field number 0");
  ModelOptions unigram;
  unigram.model_type = 1;
  expect_load_error("tok_unigram.model", make_model(vocab, unigram), 0, "UNIGRAM");
  expect_load_error("tok_hint.model", good, 512, "expected vocab_size 512");
  auto bad_type = vocab;
  bad_type[5].type = 9;
  expect_load_error("tok_bad_type.model", make_model(bad_type, ModelOptions{}), 0, "type 9");
  auto bad_byte = vocab;
  bad_byte[20].text = "<0xZZ>";
  expect_load_error("tok_bad_byte.model", make_model(bad_byte, ModelOptions{}), 0, "<0xZZ>");
  ModelOptions bad_unk;
  bad_unk.unk_id = 100000;
  expect_load_error("tok_bad_unk.model", make_model(vocab, bad_unk), 0, "unk id 100000");
}

// ---- the real tokenizers ---------------------------------------------------------------------

struct VocabCase {
  std::string text;
  std::string expected;  // " id id ..." as in the .out file
};

// llama.cpp's test files: inputs each followed by "\n__ggml_vocab_test__\n" (so an input's own
// trailing newline is kept and the separator's newline is not); the .out has one line per input.
std::vector<VocabCase> read_vocab_cases(const std::string& inp_path, const std::string& out_path) {
  const std::string inp = read_text(inp_path);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<VocabCase> cases;
  for (size_t pos = 0; pos < inp.size();) {
    const size_t end = inp.find(sep, pos);
    if (end == std::string::npos) break;
    cases.push_back({inp.substr(pos, end - pos), ""});
    pos = end + sep.size();
  }
  std::istringstream out(read_text(out_path));
  std::string line;
  for (auto& c : cases) {
    if (!std::getline(out, line)) break;
    c.expected = line;
  }
  return cases;
}

void check_vocab_cases(const Tokenizer& tok, const std::vector<VocabCase>& cases,
                       const char* which) {
  int passed = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string got = join(tok.encode(cases[i].text, false));
    EXPECT_EQ(got, cases[i].expected) << which << " case " << i << ": '" << cases[i].text << "'";
    passed += got == cases[i].expected;
  }
  std::printf("[ %s ] %d / %zu llama-spm cases reproduced\n", which, passed, cases.size());
}

class TokenizerLlamaSpm : public ::testing::Test {
 protected:
  void SetUp() override {
    inp_ = asset("llamacpp_vocab/ggml-vocab-llama-spm.gguf.inp");
    out_ = asset("llamacpp_vocab/ggml-vocab-llama-spm.gguf.out");
    for (const auto& p : {inp_, out_}) {
      if (!have(p)) GTEST_SKIP() << "missing " << p << " (set LONGCTX_ASSETS)";
    }
    cases_ = read_vocab_cases(inp_, out_);
    ASSERT_EQ(cases_.size(), 46u);
  }
  std::string inp_, out_;
  std::vector<VocabCase> cases_;
};

TEST_F(TokenizerLlamaSpm, SentencePieceModelReproducesEveryCase) {
  const std::string path = asset("llama2c/tokenizer.model");
  if (!have(path)) GTEST_SKIP() << "missing " << path;
  const auto tok = load_tokenizer(path, 32000);
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  check_vocab_cases(*tok, cases_, "tokenizer.model");
  for (const auto& c : cases_) {
    const auto ids = tok->encode(c.text, true);
    EXPECT_EQ(decode_all(*tok, ids), c.text);
  }
}

TEST_F(TokenizerLlamaSpm, Llama2cBinReproducesEveryCase) {
  const std::string path = asset("llama2c/tokenizer.bin");
  if (!have(path)) GTEST_SKIP() << "missing " << path;
  const auto tok = load_tokenizer(path, 32000);
  EXPECT_EQ(tok->vocab_size(), 32000);
  check_vocab_cases(*tok, cases_, "tokenizer.bin");
}

class TokenizerTok512 : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& rel :
         {"llama2c/tok512.bin", "llama2c/tok512.model", "corpora/tinystories_sample.txt"}) {
      if (!have(asset(rel))) GTEST_SKIP() << "missing " << asset(rel);
    }
    bin_ = load_tokenizer(asset("llama2c/tok512.bin"), 512);
    model_ = load_tokenizer(asset("llama2c/tok512.model"), 512);
    text_ = read_text(asset("corpora/tinystories_sample.txt"));
  }
  std::unique_ptr<Tokenizer> bin_, model_;
  std::string text_;
};

TEST_F(TokenizerTok512, BinAndModelAgreeAndRoundTrip) {
  const auto ids = bin_->encode(text_, true);
  EXPECT_EQ(model_->encode(text_, true), ids);
  EXPECT_GT(ids.size(), 100u);
  EXPECT_EQ(decode_all(*bin_, ids), text_);
  EXPECT_EQ(decode_all(*model_, ids), text_);
  const auto no_bos = model_->encode(text_, false);
  EXPECT_EQ(decode_all(*model_, no_bos), " " + text_);  // the dummy prefix stays without BOS
  std::istringstream lines(text_);
  std::string line;
  while (std::getline(lines, line)) {
    EXPECT_EQ(model_->encode(line, false), bin_->encode(line, false)) << line;
  }
}

TEST_F(TokenizerTok512, ModelSqueezesSpacesLikeSentencePiece) {
  // tok512.model leaves NormalizerSpec.remove_extra_whitespaces at its default (true), so
  // SentencePiece squeezes runs of spaces; llama2.c's encoder (tok512.bin) keeps them.
  EXPECT_EQ(model_->encode("a  b ", false), model_->encode("a b", false));
  EXPECT_NE(bin_->encode("a  b ", false), bin_->encode("a b", false));
}

TEST(TokenizerPerf, EncodesOneMegabyte) {
  const std::string model_path = asset("llama2c/tokenizer.model");
  const std::string text_path = asset("corpora/wikitext2_test.txt");
  std::unique_ptr<Tokenizer> tok;
  std::string text;
  if (have(model_path) && have(text_path)) {
    tok = load_tokenizer(model_path, 0);
    text = read_text(text_path).substr(0, 1 << 20);
  } else {
    tok = make_spm_tokenizer(hand_vocab(true), 1, 2, 0, true);
    std::mt19937 rng(7);
    const std::string alphabet = "abc d\n";
    for (int i = 0; i < (1 << 20); ++i) text += alphabet[rng() % alphabet.size()];
  }
  // Long runs stress the merge queue: a megabyte of one letter and of spaces.
  for (const std::string& t : {text, std::string(1 << 20, 'a'), std::string(1 << 20, ' ')}) {
    const auto start = std::chrono::steady_clock::now();
    const auto ids = tok->encode(t, true);
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("[ perf ] encoded %zu bytes into %zu tokens in %.3f s\n", t.size(), ids.size(), s);
    EXPECT_GT(ids.size(), 1u);
  }
}

}  // namespace
}  // namespace lc
