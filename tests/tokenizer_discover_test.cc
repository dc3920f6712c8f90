// Finding a model's tokenizer (tokenizer/discover.h): beside a llama2.c file, inside a Hugging
// Face directory, embedded in a GGUF model, an explicit path first, and the messages when none is
// found or the tokenizer outgrows the model's vocabulary. Fixtures are written here.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "formats/gguf_writer.h"
#include "test_util.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/discover.h"
#include "tokenizer/gguf_tokenizer.h"

namespace lc {
namespace {

namespace fs = std::filesystem;

class TokenizerDiscover : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/longctx_discover_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  static void write(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
  }
  // A llama2.c tokenizer.bin: <unk>, <s>, </s>, then `extra` one-letter pieces from 'a'.
  static void write_llama2c_tokenizer(const std::string& path, int extra) {
    std::vector<std::string> pieces = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < extra; ++i) pieces.push_back(std::string(1, static_cast<char>('a' + i)));
    std::string bytes;
    const auto put = [&](const void* p, size_t n) { bytes.append(static_cast<const char*>(p), n); };
    const int32_t max_len = 5;
    put(&max_len, 4);
    for (const auto& s : pieces) {
      const float score = 0.0f;
      const int32_t len = static_cast<int32_t>(s.size());
      put(&score, 4);
      put(&len, 4);
      put(s.data(), s.size());
    }
    write(path, bytes);
  }
  static ModelFile model_at(const std::string& path, int64_t vocab) {
    ModelFile m;
    m.path = path;
    m.config.vocab_size = vocab;
    return m;
  }

  std::string root_;
};

TEST_F(TokenizerDiscover, TokenizerBinBesideALlama2cFile) {
  write(root_ + "/model.bin", "not a gguf file");
  write_llama2c_tokenizer(root_ + "/tokenizer.bin", 5);
  write(root_ + "/tokenizer.model", "tokenizer.bin comes first");
  EXPECT_EQ(find_tokenizer_for_model(root_ + "/model.bin"), root_ + "/tokenizer.bin");
  const auto tok = load_tokenizer_for_model("", model_at(root_ + "/model.bin", 8));
  EXPECT_EQ(tok->vocab_size(), 8);
  EXPECT_EQ(tok->decode(-1, 4), "b");
}

TEST_F(TokenizerDiscover, TokenizerJsonInsideAHuggingFaceDirectory) {
  const std::string dir = root_ + "/hf";
  fs::create_directories(dir);
  write(dir + "/config.json", "{}");
  write(dir + "/tokenizer.json", byte_level_tokenizer_json());
  EXPECT_EQ(find_tokenizer_for_model(dir), dir + "/tokenizer.json");
  const auto tok = load_tokenizer_for_model("", model_at(dir, kByteLevelVocab));
  EXPECT_EQ(tok->vocab_size(), kByteLevelVocab);
  EXPECT_EQ(tok->encode("Hi", false), (std::vector<int>{'H', 'i'}));
}

TEST_F(TokenizerDiscover, EmbeddedInAGgufModelBeforeAnyFileBesideIt) {
  // The GGUF's own tokenizer (6 pieces) wins over the tokenizer.bin beside it (8 pieces).
  write_llama2c_tokenizer(root_ + "/small.bin", 3);
  const auto small = load_tokenizer(root_ + "/small.bin", 0);
  ASSERT_EQ(small->vocab_size(), 6);
  const std::string gguf = root_ + "/model.gguf";
  write_gguf(gguf, gguf_tokenizer_metadata(*small), {});
  write_llama2c_tokenizer(root_ + "/tokenizer.bin", 5);
  EXPECT_EQ(find_tokenizer_for_model(gguf), gguf);
  EXPECT_EQ(load_tokenizer_for_model("", model_at(gguf, 8))->vocab_size(), 6);
  // An explicit path is used as given.
  EXPECT_EQ(load_tokenizer_for_model(root_ + "/tokenizer.bin", model_at(gguf, 8))->vocab_size(), 8);
}

TEST_F(TokenizerDiscover, NoneFoundSaysWhatToPass) {
  write(root_ + "/model.bin", "not a gguf file");
  const std::string expected =
      "no tokenizer: pass -z TOKENIZER (llama2.c tokenizer.bin or SentencePiece .model); "
      "none found beside " +
      root_ + "/model.bin";
  for (int i = 0; i < 2; ++i) {
    try {
      if (i == 0) find_tokenizer_for_model(root_ + "/model.bin");
      if (i == 1) load_tokenizer_for_model("", model_at(root_ + "/model.bin", 8));
      ADD_FAILURE() << "expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), expected);
    }
  }
  // An empty directory (a Hugging Face directory without its tokenizer) likewise.
  test::expect_error([&] { find_tokenizer_for_model(root_); },
                     {"no tokenizer: pass -z TOKENIZER", "none found beside " + root_});
}

TEST_F(TokenizerDiscover, TokenizerLargerThanTheModelVocabularyIsRefused) {
  const std::string dir = root_ + "/hf";
  fs::create_directories(dir);
  write(dir + "/tokenizer.json", byte_level_tokenizer_json());
  test::expect_error([&] { load_tokenizer_for_model("", model_at(dir, 200)); },
                     {dir + "/tokenizer.json: tokenizer has 257 tokens but the model's "
                            "vocabulary is 200"});
}

}  // namespace
}  // namespace lc
