// The Llama forward pass against the slow reference (tests/llama_reference.h), prefill-vs-decode
// equality across block boundaries and thread counts, and the llama2.c loader's error handling.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "formats/llama2c.h"
#include "llama_reference.h"
#include "model/llama.h"
#include "runtime/session.h"
#include "test_util.h"

namespace lc {
namespace {

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/longctx_" + std::to_string(::getpid()) + "_" + name;
}

// A small model with GQA, odd hidden size and head_dim 8.
std::string write_tiny(bool shared, uint64_t seed = 7) {
  SynthSpec s{48, 37, 2, 6, 2, 67, 64, seed, shared};
  std::string p =
      temp_path(std::string("tiny_") + (shared ? "s" : "u") + std::to_string(seed) + ".bin");
  write_synthetic_llama2c(p, s);
  return p;
}

using test::random_tokens;
using test::rel_err;

struct Case {
  bool shared;
  int threads;
  int64_t block;
  DType dtype;
};

class LlamaForward : public ::testing::TestWithParam<Case> {};

TEST_P(LlamaForward, AllLogitsMatchReference) {
  const Case c = GetParam();
  auto f = load_model_file(write_tiny(c.shared));
  f->convert_matrices(c.dtype);
  LlamaModel m(*f);
  const int64_t n = 23, V = f->config.vocab_size;
  auto toks = random_tokens(n, V, 3);
  SessionOptions so{0, c.threads, c.block, {}};
  Session s(m, so);
  std::vector<float> got(n * V);
  s.all_logits(toks.data(), n, got.data());
  auto want = test::llama_reference_logits(*f, toks);
  // f32 accumulation over dot products of length <= 48 through 2 layers: ~1e-6 relative.
  EXPECT_LT(rel_err(got.data(), want.data(), got.size()), 2e-5);
}

TEST_P(LlamaForward, PrefillThenDecodeEqualsTokenByToken) {
  const Case c = GetParam();
  auto f = load_model_file(write_tiny(c.shared));
  f->convert_matrices(c.dtype);
  LlamaModel m(*f);
  const int64_t n = 30, n_prompt = 13, V = f->config.vocab_size;
  auto toks = random_tokens(n, V, 5);
  SessionOptions so{0, c.threads, c.block, {}};
  Session a(m, so), b(m, so);
  std::vector<float> all(n * V);
  a.all_logits(toks.data(), n, all.data());
  const float* l = b.prefill(toks.data(), n_prompt);
  EXPECT_LT(rel_err(l, all.data() + (n_prompt - 1) * V, V), 1e-5);
  for (int64_t i = n_prompt; i < n; ++i) {
    l = b.decode(toks[i]);
    ASSERT_LT(rel_err(l, all.data() + i * V, V), 1e-5) << "position " << i;
  }
  // One token at a time from the start gives the same as well.
  Session t(m, so);
  for (int64_t i = 0; i < n; ++i) {
    l = t.decode(toks[i]);
    ASSERT_LT(rel_err(l, all.data() + i * V, V), 1e-5) << "position " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, LlamaForward,
                         ::testing::Values(Case{true, 1, 64, DType::F32},
                                           Case{false, 2, 5, DType::F32},
                                           Case{true, 3, 1, DType::F32},
                                           Case{false, 2, 7, DType::BF16},
                                           Case{true, 2, 4, DType::F16}),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           return std::string(i.param.shared ? "tied" : "untied") + "_t" +
                                  std::to_string(i.param.threads) + "_b" +
                                  std::to_string(i.param.block) + "_" + dtype_name(i.param.dtype);
                         });

TEST(LlamaForward, ContextOverflowIsAnError) {
  auto f = load_model_file(write_tiny(true));
  LlamaModel m(*f);
  Session s(m, SessionOptions{8, 1, 4, {}});
  auto toks = random_tokens(9, f->config.vocab_size, 1);
  EXPECT_THROW(s.prefill(toks.data(), 9), Error);
  s.reset();
  s.prefill(toks.data(), 8);
  EXPECT_THROW(s.decode(1), Error);
}

TEST(LlamaForward, Stories260KMatchesReference) {
  std::string p = test::asset("llama2c/stories260K.bin");
  LC_REQUIRE_ASSET(p);
  auto f = load_model_file(p);
  EXPECT_EQ(f->config.n_kv_heads, 4);
  LlamaModel m(*f);
  auto toks = random_tokens(40, f->config.vocab_size, 11);
  toks[0] = 1;
  Session s(m, SessionOptions{0, 2, 16, {}});
  std::vector<float> got(toks.size() * f->config.vocab_size);
  s.all_logits(toks.data(), static_cast<int64_t>(toks.size()), got.data());
  auto want = test::llama_reference_logits(*f, toks);
  EXPECT_LT(rel_err(got.data(), want.data(), got.size()), 1e-4);
}

// --- llama2.c loader: bad input gives lc::Error naming the file, never a crash. ---

std::string write_bytes(const std::string& name, const std::string& bytes) {
  std::string p = temp_path(name);
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

std::string read_all(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void expect_load_error(const std::string& path, const std::string& needle) {
  try {
    load_model_file(path);
    FAIL() << "expected an error for " << path;
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  }
}

TEST(Llama2cLoader, RejectsBadFiles) {
  std::string good = read_all(write_tiny(true));
  expect_load_error(write_bytes("trunc.bin", good.substr(0, good.size() - 4)), "does not match");
  expect_load_error(write_bytes("pad.bin", good + "xxxx"), "does not match");
  expect_load_error(write_bytes("empty.bin", ""), "too small");
  expect_load_error(write_bytes("short.bin", good.substr(0, 20)), "too small");
  std::string garbage(4096, '\xAB');
  expect_load_error(write_bytes("garbage.bin", garbage), "out of range");
  std::string bad_heads = good;
  int32_t heads = 5;  // 48 % 5 != 0
  std::memcpy(&bad_heads[12], &heads, 4);
  expect_load_error(write_bytes("heads.bin", bad_heads), "not divisible");
  std::string bad_kv = good;
  int32_t kv = 4;  // 6 % 4 != 0
  std::memcpy(&bad_kv[16], &kv, 4);
  expect_load_error(write_bytes("kv.bin", bad_kv), "multiple of n_kv_heads");
  std::string neg = good;
  int32_t layers = -3;
  std::memcpy(&neg[8], &layers, 4);
  expect_load_error(write_bytes("neg.bin", neg), "out of range");
  expect_load_error(temp_path("does_not_exist.bin"), "cannot open");
}

TEST(Llama2cLoader, UnsharedClassifierIsRead) {
  auto f = load_model_file(write_tiny(false));
  EXPECT_FALSE(f->config.tied_embeddings);
  ASSERT_NE(f->find("output"), nullptr);
  auto g = load_model_file(write_tiny(true));
  EXPECT_TRUE(g->config.tied_embeddings);
  EXPECT_EQ(g->find("output"), nullptr);
}

}  // namespace
}  // namespace lc
