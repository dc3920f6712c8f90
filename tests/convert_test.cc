// `longctx convert` to quantized GGUF: the per-tensor type plan (formats/quant_recipe.h, checked
// against llama.cpp's rules by hand), the writer converting tensors as it writes them, metadata
// carried over from a GGUF input, and the command end to end with its one-line errors.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/mmap.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "formats/llama2c.h"
#include "formats/quant_recipe.h"
#include "ops/quant/dequant.h"
#include "test_util.h"

namespace lc {
namespace {

std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "/longctx_convert_" + std::to_string(::getpid()) + "_" + name;
}

// A llama ModelFile with the given shapes and no data (the plan reads names and shapes only).
ModelFile shapes_only(int64_t layers, int64_t d, int64_t hidden, int64_t kv_dim, int64_t vocab,
                      bool tied, int64_t heads = 8, int64_t kv_heads = 2) {
  ModelFile m;
  m.config.n_layers = layers;
  m.config.d_model = d;
  m.config.n_heads = heads;
  m.config.n_kv_heads = kv_heads;
  auto add = [&](const std::string& n, std::vector<int64_t> s) {
    TensorRef t;
    t.name = n;
    t.shape = std::move(s);
    m.tensors.push_back(t);
  };
  add("token_embd", {vocab, d});
  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm", {d});
    add(p + "attn_q", {d, d});
    add(p + "attn_k", {kv_dim, d});
    add(p + "attn_v", {kv_dim, d});
    add(p + "attn_output", {d, d});
    add(p + "ffn_norm", {d});
    add(p + "ffn_gate", {hidden, d});
    add(p + "ffn_up", {hidden, d});
    add(p + "ffn_down", {d, hidden});
  }
  add("output_norm", {d});
  if (!tied) add("output", {vocab, d});
  return m;
}

std::map<std::string, DType> plan(const std::string& target, const ModelFile& m) {
  const std::vector<DType> t = plan_tensor_dtypes(parse_convert_target(target), m);
  std::map<std::string, DType> out;
  for (size_t i = 0; i < t.size(); ++i) out[m.tensors[i].name] = t[i];
  return out;
}

std::string layer(int64_t l, const char* rest) { return "blk." + std::to_string(l) + "." + rest; }

// llama.cpp's use_more_bits for 8 layers: l < 1, l >= 7, (l - 1) % 3 == 2 -> 0, 3, 6, 7.
TEST(QuantRecipe, Q4KMFollowsLlamaCppOnBlockFriendlyShapes) {
  const ModelFile m = shapes_only(8, 512, 1024, 256, 1000, /*tied=*/false);
  const auto p = plan("q4_k_m", m);
  EXPECT_EQ(p.at("output"), DType::Q6_K);
  EXPECT_EQ(p.at("token_embd"), DType::Q4_K);  // untied: not the classifier
  EXPECT_EQ(p.at("output_norm"), DType::F32);
  for (int64_t l = 0; l < 8; ++l) {
    const bool more = l == 0 || l == 3 || l == 6 || l == 7;
    EXPECT_EQ(p.at(layer(l, "attn_v")), more ? DType::Q6_K : DType::Q4_K) << l;
    EXPECT_EQ(p.at(layer(l, "ffn_down")), more ? DType::Q6_K : DType::Q4_K) << l;
    for (const char* n : {"attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"})
      EXPECT_EQ(p.at(layer(l, n)), DType::Q4_K) << l << " " << n;
    EXPECT_EQ(p.at(layer(l, "attn_norm")), DType::F32);
  }
  const auto q5 = plan("q5_k_m", m);
  EXPECT_EQ(q5.at("output"), DType::Q6_K);
  EXPECT_EQ(q5.at(layer(3, "attn_v")), DType::Q6_K);
  EXPECT_EQ(q5.at(layer(4, "attn_v")), DType::Q5_K);
  EXPECT_EQ(q5.at(layer(4, "ffn_down")), DType::Q5_K);
  EXPECT_EQ(q5.at(layer(4, "attn_q")), DType::Q5_K);
  // A plain type is pure: every matrix in it.
  for (const auto& [name, t] : plan("q4_k", m))
    EXPECT_EQ(t, name.find("norm") != std::string::npos ? DType::F32 : DType::Q4_K) << name;
}

// SmolLM2-135M's shapes: 30 layers, d 576 (not a multiple of 256), hidden 1536, tied.
TEST(QuantRecipe, Q4KMOnSmolLM2ShapesFallsBackLikeLlamaCpp) {
  const ModelFile m = shapes_only(30, 576, 1536, 192, 49152, /*tied=*/true, 9, 3);
  const auto p = plan("q4_k_m", m);
  EXPECT_EQ(p.at("token_embd"), DType::Q8_0);  // the classifier, rows of 576: Q8_0
  int64_t n_more = 0;
  for (int64_t l = 0; l < 30; ++l) {
    // use_more_bits(l, 30): l < 3, l >= 26, (l - 3) % 3 == 2.
    const bool more = l < 3 || l >= 26 || (l - 3) % 3 == 2;
    n_more += more;
    EXPECT_EQ(p.at(layer(l, "attn_v")), more ? DType::Q8_0 : DType::Q5_0) << l;    // Q6_K / Q4_K
    EXPECT_EQ(p.at(layer(l, "ffn_down")), more ? DType::Q6_K : DType::Q4_K) << l;  // rows 1536
    EXPECT_EQ(p.at(layer(l, "attn_q")), DType::Q5_0) << l;
  }
  EXPECT_EQ(n_more, 14);
  const auto q5 = plan("q5_k_m", m);
  EXPECT_EQ(q5.at(layer(4, "attn_q")), DType::Q5_1);
  EXPECT_EQ(q5.at(layer(4, "ffn_down")), DType::Q5_K);
  EXPECT_EQ(q5.at(layer(5, "attn_v")), DType::Q8_0);
}

// llama.cpp bumps the other attn_v of a 70B (80 layers, GQA) from Q4_K to Q5_K.
TEST(QuantRecipe, Llama70BAttnV) {
  // use_more_bits(l, 80): l < 10, l >= 70, (l - 10) % 3 == 2 (12 yes, 13 no).
  const ModelFile m = shapes_only(80, 256, 256, 256, 64, false);
  EXPECT_EQ(plan("q4_k_m", m).at(layer(13, "attn_v")), DType::Q5_K);
  EXPECT_EQ(plan("q4_k_m", m).at(layer(12, "attn_v")), DType::Q6_K);
  EXPECT_EQ(plan("q5_k_m", m).at(layer(13, "attn_v")), DType::Q5_K);
  const ModelFile mha = shapes_only(80, 256, 256, 256, 64, false, 8, 8);
  EXPECT_EQ(plan("q4_k_m", mha).at(layer(13, "attn_v")), DType::Q4_K);
}

TEST(QuantRecipe, FallbackTable) {
  EXPECT_EQ(fallback_dtype(DType::Q4_K, 512), DType::Q4_K);
  EXPECT_EQ(fallback_dtype(DType::Q4_K, 576), DType::Q5_0);
  EXPECT_EQ(fallback_dtype(DType::Q5_K, 576), DType::Q5_1);
  EXPECT_EQ(fallback_dtype(DType::Q6_K, 576), DType::Q8_0);
  EXPECT_EQ(fallback_dtype(DType::Q2_K, 576), DType::Q4_0);
  EXPECT_EQ(fallback_dtype(DType::Q3_K, 576), DType::Q4_0);
  EXPECT_EQ(fallback_dtype(DType::IQ4_XS, 576), DType::IQ4_NL);
  EXPECT_EQ(fallback_dtype(DType::Q4_K, 172), DType::F16);
  EXPECT_EQ(fallback_dtype(DType::Q8_0, 172), DType::F16);
  EXPECT_EQ(fallback_dtype(DType::IQ4_NL, 64), DType::IQ4_NL);
  EXPECT_EQ(fallback_dtype(DType::BF16, 7), DType::BF16);
  EXPECT_EQ(parse_convert_target("q4_k_m").base, DType::Q4_K);
  EXPECT_EQ(parse_convert_target("q5_k_m").file_type, 17u);
  EXPECT_EQ(parse_convert_target("iq4_xs").file_type, 30u);
  test::expect_error([] { parse_convert_target("q4_k_s"); }, {"--dtype", "q4_k_m", "'q4_k_s'"});
}

// The writer converts each tensor to its planned type as it writes it: the file holds exactly
// convert_tensor's bytes, extra keys replace the config's in place, and the carried metadata
// of the result drops the keys the writer owns.
TEST(GgufConvert, WriterConvertsPerTensorAndMergesKeys) {
  const std::string src = tmp("w.bin"), out = tmp("w.gguf");
  write_synthetic_llama2c(src, {256, 512, 2, 4, 2, 40, 64, 3, false});
  auto m = load_model_file(src);
  const std::vector<DType> dtypes = plan_tensor_dtypes(parse_convert_target("q4_k_m"), *m);
  GgufKv extra = {{"general.name", gguf_string("tiny")},
                  {"llama.context_length", gguf_u32(99)},
                  {"tokenizer.ggml.model", gguf_string("llama")},
                  {"split.count", gguf_u32(1)},
                  {"general.file_type", gguf_u32(15)}};
  write_model_gguf(out, *m, extra, {}, dtypes);
  MappedFile f(out);
  const GgufFile g = parse_gguf(f.data(), f.size(), out);
  EXPECT_EQ(g.get_string("general.name"), "tiny");
  EXPECT_EQ(g.get_int("llama.context_length", 0, 1000), 99);
  EXPECT_EQ(g.keys.size(), g.kv.size());
  ASSERT_EQ(g.tensors.size(), m->tensors.size());
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    const TensorRef& t = m->tensors[i];
    ASSERT_EQ(g.tensors[i].dtype, dtypes[i]) << t.name;
    std::vector<uint8_t> want(static_cast<size_t>(dtype_bytes(dtypes[i], t.numel())));
    convert_tensor(t, dtypes[i], want.data(), src);
    ASSERT_EQ(std::memcmp(g.tensors[i].data, want.data(), want.size()), 0) << t.name;
  }
  EXPECT_EQ(g.tensors[0].name, "token_embd.weight");
  EXPECT_EQ(g.tensors[0].dtype, DType::Q4_K);  // untied
  const GgufKv kept = gguf_carried_metadata(g, /*keep_tokenizer=*/true);
  std::map<std::string, int> names;
  for (const auto& [k, v] : kept) ++names[k];
  EXPECT_EQ(names.count("general.architecture") + names.count("general.alignment") +
                names.count("general.file_type") + names.count("split.count"),
            0u);
  EXPECT_EQ(names.count("general.name"), 1u);
  EXPECT_EQ(names.count("tokenizer.ggml.model"), 1u);
  EXPECT_EQ(gguf_carried_metadata(g, false).size() + 1, kept.size());
}

// Converting to a quantized type refuses weights it cannot represent, naming the tensor.
TEST(GgufConvert, NonFiniteOrHugeWeightsAreRefused) {
  const std::string src = tmp("nan.bin");
  write_synthetic_llama2c(src, {32, 64, 1, 2, 1, 16, 8, 5, true});
  auto poke = [&](float v) {  // token_embd[0, 0]: the first float after the 7-int header
    std::fstream f(src, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(28);
    f.write(reinterpret_cast<const char*>(&v), 4);
  };
  auto m = load_model_file(src);
  std::vector<uint8_t> buf(4096);
  poke(std::nanf(""));
  m = load_model_file(src);
  test::expect_error([&] { convert_tensor(m->tensors[0], DType::Q8_0, buf.data(), src); },
                     {src, "token_embd", "[0, 0]", "non-finite"});
  poke(1e7f);  // d = 1e7 / 127 > 65504
  m = load_model_file(src);
  test::expect_error([&] { convert_tensor(m->tensors[0], DType::Q4_K, buf.data(), src); },
                     {"token_embd", "rows of 32", "q4_k"});
  test::expect_error([&] { convert_tensor(m->tensors[0], DType::Q8_0, buf.data(), src); },
                     {"token_embd", "row 0", "overflows fp16", "use f32, f16 or bf16"});
  convert_tensor(m->tensors[0], DType::BF16, buf.data(), src);  // bf16 holds it
}

struct Cli {
  int status;
  std::string err;
};

Cli run_cli(const std::string& args) {
  const std::string e = tmp("stderr");
  const int st = std::system(
      ("timeout 300 '" + test::longctx_bin() + "' " + args + " >/dev/null 2>'" + e + "' </dev/null")
          .c_str());
  std::ifstream in(e);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128,
          std::string(std::istreambuf_iterator<char>(in), {})};
}

void expect_one_line_error(const Cli& r, const std::string& needle) {
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "expected one line: " << r.err;
}

GgufFile read_gguf(const std::string& path, std::unique_ptr<MappedFile>* keep) {
  *keep = std::make_unique<MappedFile>(path);
  return parse_gguf((*keep)->data(), (*keep)->size(), path);
}

// GGUF -> GGUF keeps every metadata key (the embedded tokenizer above all, so the result runs
// without -z) and sets general.file_type; stories260K's 64-wide rows fit Q4_0 and Q5_0 (the
// q4_k fallback), its 172-wide ffn_down rows fall back to F16.
TEST(GgufConvert, GgufToGgufKeepsMetadataAndRuns) {
  if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
  const std::string model = test::asset("llama2c/stories260K.bin"),
                    tok = test::asset("llama2c/tok512.bin");
  LC_REQUIRE_ASSET(model);
  LC_REQUIRE_ASSET(tok);
  const std::string a = tmp("a.gguf"), b = tmp("b.gguf");
  ASSERT_EQ(run_cli("convert '" + model + "' '" + a + "' -z '" + tok + "'").status, 0);
  const Cli r = run_cli("convert '" + a + "' '" + b + "' --dtype q4_k");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("q5_0"), std::string::npos) << r.err;  // the summary names the types
  std::unique_ptr<MappedFile> fa, fb;
  const GgufFile ga = read_gguf(a, &fa), gb = read_gguf(b, &fb);
  for (const std::string& k : ga.keys) {
    ASSERT_TRUE(gb.find(k)) << k;
    if (k == "general.file_type") continue;
    const GgufValue &va = ga.kv.at(k), &vb = gb.kv.at(k);
    EXPECT_EQ(va.type, vb.type) << k;
    EXPECT_TRUE(va.i == vb.i && va.f == vb.f && va.str == vb.str && va.strs == vb.strs &&
                va.ints == vb.ints && va.floats == vb.floats)
        << k;
  }
  EXPECT_EQ(gb.get_int("general.file_type", 0, 100), 14);  // LLAMA_FTYPE_MOSTLY_Q4_K_S
  EXPECT_EQ(gb.get_int("general.quantization_version", 0, 100), 2);
  for (const GgufTensorInfo& t : gb.tensors) {
    const DType want = t.dims.size() == 1                             ? DType::F32
                       : t.name.find("ffn_down") != std::string::npos ? DType::F16
                       : t.dims[0] % 256 == 0                         ? DType::Q4_K
                                                                      : DType::Q5_0;
    EXPECT_EQ(t.dtype, want) << t.name;
  }
  const Cli run = run_cli("run -m '" + b + "' -p 'Once upon a time' -n 8 --temp 0");
  EXPECT_EQ(run.status, 0) << run.err;
}

// The real model: its GGUF tokenizer, chat template and special ids survive a requantization
// (issue: the embedded tokenizer used to be dropped, so the result could not be run).
TEST(GgufConvert, SmolLM2RequantizedKeepsTokenizer) {
  if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
  const std::string model = test::asset("real_models/SmolLM2-135M-Instruct.Q4_1.gguf");
  LC_REQUIRE_ASSET(model);
  const std::string out = tmp("smol_q4_k_m.gguf");
  const Cli r = run_cli("convert '" + model + "' '" + out + "' --dtype q4_k_m");
  ASSERT_EQ(r.status, 0) << r.err;
  std::unique_ptr<MappedFile> f;
  const GgufFile g = read_gguf(out, &f);
  EXPECT_EQ(g.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_FALSE(g.get_bool("tokenizer.ggml.add_bos_token", true));
  EXPECT_FALSE(g.get_string("tokenizer.chat_template").empty());
  EXPECT_EQ(g.get_int("general.file_type", 0, 100), 15);
  const Cli run = run_cli("run -m '" + out + "' -p 'The capital of France is' -n 4 --temp 0");
  EXPECT_EQ(run.status, 0) << run.err;
}

TEST(GgufConvert, BadInputGivesOneLineErrors) {
  if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
  const std::string src = tmp("e.bin");
  write_synthetic_llama2c(src, {32, 64, 1, 2, 1, 16, 8, 5, true});
  expect_one_line_error(run_cli("convert '" + src + "' '" + tmp("e.gguf") + "' --dtype q4_k_s"),
                        "--dtype: expected one of");
  expect_one_line_error(run_cli("convert '" + src + "' '" + tmp("e_hf") + "' --dtype q4_k_m"),
                        "safetensors holds f32, f16 or bf16 only");
  expect_one_line_error(run_cli("convert /nonexistent/m.bin '" + tmp("x.gguf") + "'"),
                        "/nonexistent/m.bin");
  expect_one_line_error(run_cli("convert '" + src + "' /nonexistent/dir/x.gguf --dtype q8_0"),
                        "/nonexistent/dir/x.gguf");
  {
    std::fstream f(src, std::ios::in | std::ios::out | std::ios::binary);
    const float nan = std::nanf("");
    f.seekp(28);
    f.write(reinterpret_cast<const char*>(&nan), 4);
  }
  expect_one_line_error(run_cli("convert '" + src + "' '" + tmp("e.gguf") + "' --dtype q8_0"),
                        "non-finite");
}

}  // namespace
}  // namespace lc
