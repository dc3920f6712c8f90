// The byte-level tokenizer.json written beside checkpoints of `longctx train --data`: read back
// by the engine's tokenizer.json loader, every byte string (valid UTF-8 or not) encodes to exactly
// its bytes and decodes back; id 256 is the special BOS/EOS token.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/byte_level.h"

namespace lc {
namespace {

std::unique_ptr<Tokenizer> load_byte_level() {
  const std::string path = ::testing::TempDir() + "/longctx_byte_level_" +
                           std::to_string(::getpid()) + "_tokenizer.json";
  std::ofstream(path, std::ios::binary) << byte_level_tokenizer_json();
  return load_hf_tokenizer_json(path);
}

void expect_bytes_round_trip(const Tokenizer& tok, const std::string& s) {
  const std::vector<int> ids = tok.encode(s, /*add_bos=*/true);
  ASSERT_EQ(ids.size(), s.size() + 1);
  EXPECT_EQ(ids[0], kByteLevelSpecialId);
  std::string back;
  for (size_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(ids[i + 1], static_cast<unsigned char>(s[i])) << "byte " << i;
    back += tok.decode(ids[i], ids[i + 1]);
  }
  EXPECT_EQ(back, s);
}

TEST(ByteLevelTokenizer, EveryByteIsItsOwnToken) {
  const auto tok = load_byte_level();
  EXPECT_EQ(tok->vocab_size(), kByteLevelVocab);
  EXPECT_EQ(tok->bos_id(), kByteLevelSpecialId);
  EXPECT_EQ(tok->eos_id(), kByteLevelSpecialId);
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  expect_bytes_round_trip(*tok, all);
  expect_bytes_round_trip(*tok, "Hello, \"world\" \\ na\xc3\xafve\n\tx  's 'll 123");
  std::mt19937 rng(5);
  for (int t = 0; t < 50; ++t) {
    std::string s(rng() % 64, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    expect_bytes_round_trip(*tok, s);
  }
  EXPECT_EQ(tok->decode(65, kByteLevelSpecialId), "");  // the special token prints nothing
}

}  // namespace
}  // namespace lc
