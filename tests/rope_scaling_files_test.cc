// Position scaling through the model files: HF config.json `rope_scaling` and GGUF (rope.scaling.*
// keys, Llama 3's rope_freqs tensor) written by longctx read back to the same frequencies and
// the same logits; unsupported or malformed scalings fail with one line naming the problem.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "formats/gguf_writer.h"
#include "formats/hf.h"
#include "formats/model_file.h"
#include "model/llama.h"
#include "ops/rope.h"
#include "runtime/session.h"
#include "sharp_model.h"
#include "test_util.h"

namespace lc {
namespace {

using T = ops::RopeScaling::Type;

std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "/longctx_ropefiles_" + std::to_string(::getpid()) + "_" + name;
}

std::vector<float> logits(const ModelFile& f, const std::vector<int>& toks) {
  LlamaModel m(f);
  return test::session_logits(m, AttentionConfig{}, toks, 8, 1, 0);
}

ops::RopeScaling scaling_of(T type) {
  ops::RopeScaling s;
  s.type = type;
  s.factor = type == T::Linear ? 3.0 : 4.0;
  s.original_ctx = type == T::Llama3 ? 16 : 48;
  if (type == T::Yarn) s.attention_factor = 1.25;
  return s;
}

class RopeScalingFiles : public ::testing::TestWithParam<T> {};

TEST_P(RopeScalingFiles, HfAndGgufRoundTripToTheSameLogits) {
  auto f = test::load_sharp_model(0, ops::RopeStyle::AdjacentPairs, "ropefiles");
  f->config.rope_scaling = scaling_of(GetParam());
  const auto toks = test::random_tokens(40, f->config.vocab_size, 3);
  const auto want = logits(*f, toks);
  const ops::RopeFreqs freqs(f->config.head_dim, f->config.rope_theta, f->config.rope_scaling);

  const std::string gguf = tmp(std::string(ops::rope_scaling_name(GetParam())) + ".gguf");
  write_model_gguf(gguf, *f, {});
  auto g = load_model_file(gguf);
  // Llama 3 travels as per-pair divisors (llama.cpp's rope_freqs), the others as keys.
  EXPECT_EQ(g->find("rope_freqs") != nullptr, GetParam() == T::Llama3);
  EXPECT_EQ(g->config.rope_scaling.type, GetParam() == T::Llama3 ? T::None : GetParam());
  EXPECT_LT(test::rel_err(logits(*g, toks).data(), want.data(), want.size()), 1e-6);

  permute_rope_rows(*f, ops::RopeStyle::RotateHalf);
  const std::string dir = tmp(std::string(ops::rope_scaling_name(GetParam())) + "_hf");
  write_hf_dir(dir, *f);
  auto h = load_model_file(dir);
  const ops::RopeFreqs back(h->config.head_dim, h->config.rope_theta, h->config.rope_scaling);
  EXPECT_EQ(h->config.rope_scaling.type, GetParam());
  for (size_t i = 0; i < freqs.inv_freq().size(); ++i)
    EXPECT_NEAR(back.inv_freq()[i], freqs.inv_freq()[i], 1e-6 * freqs.inv_freq()[i]);
  EXPECT_NEAR(back.attention_factor(), freqs.attention_factor(), 1e-6);
  EXPECT_LT(test::rel_err(logits(*h, toks).data(), want.data(), want.size()), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Types, RopeScalingFiles, ::testing::Values(T::Linear, T::Llama3, T::Yarn),
                         [](const ::testing::TestParamInfo<T>& i) {
                           return std::string(ops::rope_scaling_name(i.param));
                         });

// A config.json with the given rope_scaling value (raw JSON) beside the weights of a tiny model.
std::string hf_with_scaling(const std::string& name, const std::string& scaling_json) {
  auto f = test::load_sharp_model(0, ops::RopeStyle::AdjacentPairs, "ropefiles_bad");
  permute_rope_rows(*f, ops::RopeStyle::RotateHalf);
  const std::string dir = tmp(name);
  write_hf_dir(dir, *f);
  std::ifstream in(dir + "/config.json");
  std::string cfg((std::istreambuf_iterator<char>(in)), {});
  cfg.insert(cfg.find('{') + 1, "\n  \"rope_scaling\": " + scaling_json + ",");
  std::ofstream(dir + "/config.json", std::ios::trunc) << cfg;
  return dir;
}

TEST(RopeScalingFiles, UnsupportedOrMalformedScalingFailsWithOneLine) {
  using test::expect_error;
  expect_error(
      [] { load_model_file(hf_with_scaling("dyn", R"({"type": "dynamic", "factor": 2})")); },
      {"config.json: rope_scaling", "'dynamic' is not supported",
       "expected linear, llama3, yarn or none"});
  expect_error([] { load_model_file(hf_with_scaling("lr", R"({"rope_type": "longrope"})")); },
               {"'longrope' is not supported"});
  expect_error([] { load_model_file(hf_with_scaling("num", "2.0")); },
               {"rope_scaling is a number, expected an object"});
  expect_error(
      [] { load_model_file(hf_with_scaling("l3", R"({"rope_type": "llama3", "factor": 8})")); },
      {"llama3 needs original_max_position_embeddings"});
  expect_error([] { load_model_file(hf_with_scaling("nof", R"({"rope_type": "linear"})")); },
               {"rope scaling linear: factor 0 must be > 0"});
  // null is "no scaling", as transformers reads it.
  auto f = load_model_file(hf_with_scaling("null", "null"));
  EXPECT_EQ(f->config.rope_scaling.type, T::None);
  // GGUF: an unknown rope.scaling.type names the key and the value.
  auto m = test::load_sharp_model(0, ops::RopeStyle::AdjacentPairs, "ropefiles_bad");
  const std::string gguf = tmp("bad.gguf");
  write_model_gguf(gguf, *m, {{"llama.rope.scaling.type", gguf_string("longrope")}});
  expect_error([&] { load_model_file(gguf); },
               {"rope.scaling.type", "'longrope' is not supported"});
}

}  // namespace
}  // namespace lc
