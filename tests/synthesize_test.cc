// formats/synthesize.h, the library behind `longctx synth-model`: one request per architecture
// written and loaded back with the sizes asked for, and the errors the command line shows.
#include "formats/synthesize.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "formats/model_file.h"
#include "test_util.h"

namespace lc {
namespace {

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/longctx_synthesize_" + std::to_string(::getpid()) + "_" + name;
}

SynthRequest llama_family(const std::string& arch) {
  SynthRequest r;
  r.arch = arch;
  r.d_model = 32;
  r.n_layers = 2;
  r.n_heads = 4;
  r.n_kv_heads = 2;
  r.vocab_size = 40;
  r.ctx_len = 16;
  return r;
}

TEST(Synthesize, ArchitecturesTable) {
  EXPECT_EQ(synth_architectures(), (std::vector<std::string>{"llama", "mpt", "based"}));
}

TEST(Synthesize, LlamaFile) {
  SynthRequest r = llama_family("llama");
  r.hidden = 48;
  r.unshared_classifier = true;
  const std::string out = temp_path("llama.bin");
  synthesize_model(r, out);
  auto m = load_model_file(out);
  const ModelConfig& c = m->config;
  EXPECT_EQ(c.d_model, 32);
  EXPECT_EQ(c.hidden, 48);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.vocab_size, 40);
  EXPECT_EQ(c.ctx_len, 16);
  EXPECT_FALSE(c.tied_embeddings);
  std::filesystem::remove(out);
}

TEST(Synthesize, MptDirectoryWithDefaultHidden) {
  SynthRequest r = llama_family("mpt");
  r.alibi_bias_max = 4.0;
  const std::string out = temp_path("mpt");
  synthesize_model(r, out);
  auto m = load_model_file(out);
  const ModelConfig& c = m->config;
  EXPECT_EQ(c.arch, Arch::Mpt);
  EXPECT_EQ(c.d_model, 32);
  EXPECT_EQ(c.hidden, 4 * 32);  // --hidden defaults to 4 * --dim
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.alibi_bias_max, 4.0);
  EXPECT_TRUE(c.tied_embeddings);
  std::filesystem::remove_all(out);
}

TEST(Synthesize, BasedPresetWithOverrides) {
  SynthRequest r;
  r.arch = "based";
  r.n_layers = 7;     // lays out linear layers 1, 6 and window layer 2
  r.hidden = 300;     // rounded up to 512
  r.vocab_size = 90;  // padded to 96
  r.dtype = DType::BF16;
  const std::string out = temp_path("based");
  synthesize_model(r, out);
  auto m = load_model_file(out);
  const ModelConfig& c = m->config;
  EXPECT_EQ(c.arch, Arch::Based);
  EXPECT_EQ(c.d_model, 64);  // the tiny preset's
  EXPECT_EQ(c.n_layers, 7);
  EXPECT_EQ(c.hidden, 512);
  EXPECT_EQ(c.vocab_size, 90);
  EXPECT_EQ(c.based.padded_vocab, 96);
  EXPECT_EQ(c.based.linear_layers, (std::vector<int64_t>{1, 6}));
  EXPECT_EQ(c.based.window_layers, (std::vector<int64_t>{2}));
  EXPECT_EQ(m->find("blk.0.ffn_down")->dtype, DType::BF16);
  std::filesystem::remove_all(out);
}

TEST(Synthesize, ErrorsNameTheFlag) {
  const std::string out = temp_path("never");
  SynthRequest gpt;
  gpt.arch = "gpt";
  try {
    synthesize_model(gpt, out);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--arch: expected llama, mpt or based, got 'gpt'");
  }
  SynthRequest no_dim = llama_family("mpt");
  no_dim.d_model.reset();
  try {
    synthesize_model(no_dim, out);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "synth-model: --dim is required");
  }
  SynthRequest llama_std = llama_family("llama");
  llama_std.hidden = 48;
  llama_std.weight_std = 0.1f;
  test::expect_error([&] { synthesize_model(llama_std, out); },
                     {"--weight-std: applies to --arch mpt only"});
  SynthRequest mpt_preset = llama_family("mpt");
  mpt_preset.preset = "tiny";
  test::expect_error([&] { synthesize_model(mpt_preset, out); },
                     {"--preset: applies to --arch based only"});
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace lc
