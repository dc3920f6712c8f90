// GGUF / safetensors / JSON readers on well-formed and hostile input (always run, files built
// here), and the converter end to end through the CLI on stories260K (skipped without assets):
// GGUF and HF directories reproduce the reference greedy text exactly; f16 / bf16 / q8_0
// conversions stay within a stated tolerance of f32 logits.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

// GCC 12 at -O3 reports a false -Wrestrict inside std::string concatenation (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "formats/hf.h"
#include "formats/json.h"
#include "formats/safetensors.h"
#include "ops/quant/quantize.h"
#include "ops/reference.h"
#include "test_util.h"

namespace lc {
namespace {

std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "/longctx_fmt_" + std::to_string(::getpid()) + "_" + name;
}
std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void spit(const std::string& p, const std::string& s) {
  std::ofstream(p, std::ios::binary).write(s.data(), static_cast<std::streamsize>(s.size()));
}

template <typename F>
void expect_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected an lc::Error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// A tiny valid GGUF model (dim 32, 1 layer, vocab 8) written by write_gguf; matrix_last puts
// a matrix (ffn_down) at the end of the file instead of output_norm.
std::string tiny_gguf(DType matrix_type, bool matrix_last = false) {
  const int64_t d = 32, h = 64, v = 8;
  static std::vector<std::vector<uint8_t>> keep;
  std::vector<GgufOutTensor> ts;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, DType t) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    std::vector<float> f(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      f[i] = shape.size() == 1 ? 1.0f : 0.01f * static_cast<float>((i * 7) % 13 - 6);
    std::vector<uint8_t> b(static_cast<size_t>(dtype_bytes(t, n)));
    if (t == DType::F32)
      std::memcpy(b.data(), f.data(), b.size());
    else if (t == DType::Q8_0)
      ops::quant::quantize_row(t, f.data(), b.data(), n);
    else
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t x = t == DType::F16 ? f32_to_f16(f[i]) : f32_to_bf16(f[i]);
        std::memcpy(b.data() + 2 * i, &x, 2);
      }
    keep.push_back(std::move(b));
    ts.push_back({name, shape, t, keep.back().data(), {}});
  };
  add("token_embd.weight", {v, d}, matrix_type);
  if (matrix_last) add("output_norm.weight", {d}, DType::F32);
  add("blk.0.attn_norm.weight", {d}, DType::F32);
  add("blk.0.ffn_norm.weight", {d}, DType::F32);
  for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_output"})
    add(std::string("blk.0.") + m + ".weight", {d, d}, matrix_type);
  add("blk.0.ffn_gate.weight", {h, d}, matrix_type);
  add("blk.0.ffn_up.weight", {h, d}, matrix_type);
  add("blk.0.ffn_down.weight", {d, h}, matrix_type);
  if (!matrix_last) add("output_norm.weight", {d}, DType::F32);
  GgufKv kv = {{"general.architecture", gguf_string("llama")},
               {"llama.embedding_length", gguf_u32(32)},
               {"llama.block_count", gguf_u32(1)},
               {"llama.feed_forward_length", gguf_u32(64)},
               {"llama.attention.head_count", gguf_u32(4)},
               {"llama.attention.head_count_kv", gguf_u32(2)},
               {"llama.rope.freq_base", gguf_f32(500000.0f)},
               {"llama.context_length", gguf_u32(64)}};
  const std::string path =
      tmp(std::string("tiny_") + dtype_name(matrix_type) + (matrix_last ? "_last" : "") + ".gguf");
  write_gguf(path, kv, ts);
  return slurp(path);
}

std::unique_ptr<ModelFile> load_bytes(const std::string& s) {
  return load_gguf_from_memory(reinterpret_cast<const uint8_t*>(s.data()), s.size(), "t.gguf");
}

TEST(Gguf, TinyModelLoadsForEveryType) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0}) {
    const std::string s = tiny_gguf(t);
    auto m = load_bytes(s);
    EXPECT_EQ(m->config.d_model, 32);
    EXPECT_EQ(m->config.n_kv_heads, 2);
    EXPECT_EQ(m->config.head_dim, 8);
    EXPECT_EQ(m->config.vocab_size, 8);
    EXPECT_TRUE(m->config.tied_embeddings);
    EXPECT_DOUBLE_EQ(m->config.rope_theta, 500000.0);
    EXPECT_EQ(m->config.rope_style, ops::RopeStyle::AdjacentPairs);
    const TensorRef& g = m->get("blk.0.ffn_gate", {64, 32});
    EXPECT_EQ(g.dtype, t);
    EXPECT_NEAR(ops::ref::load(g.data, g.dtype, 1), 0.01f * 1, 2e-3);
  }
}

// Offsets of fields in the tiny file, found by searching for the names.
size_t find(const std::string& s, const std::string& what) {
  const size_t p = s.find(what);
  EXPECT_NE(p, std::string::npos) << what;
  return p;
}

TEST(Gguf, HostileHeadersAreRejectedWithContext) {
  const std::string good = tiny_gguf(DType::F32);
  auto mutate = [&](size_t at, const void* bytes, size_t n) {
    std::string s = good;
    std::memcpy(&s[at], bytes, n);
    return s;
  };
  const uint64_t huge = uint64_t{1} << 60;
  const uint32_t v1 = 1, bad_type = 77, qtype = 16, ktype = 12;
  expect_error([&] { load_bytes(good.substr(0, 3)); }, "not a GGUF");
  expect_error([&] { load_bytes(mutate(4, &v1, 4)); }, "version 1");
  expect_error([&] { load_bytes(mutate(8, &huge, 8)); }, "tensors");
  expect_error([&] { load_bytes(mutate(16, &huge, 8)); }, "metadata entries");
  // The first key's length runs past the end.
  expect_error([&] { load_bytes(mutate(24, &huge, 8)); }, "past the end");
  // Truncated anywhere: always an error, never a crash.
  for (size_t n = 0; n < good.size(); n += 97) EXPECT_THROW(load_bytes(good.substr(0, n)), Error);
  // Tensor type fields: an unknown type and an unsupported one, named.
  const size_t name_at = find(good, "blk.0.ffn_down.weight");
  const size_t type_at = name_at + 21 + 4 + 2 * 8;
  expect_error([&] { load_bytes(mutate(type_at, &bad_type, 4)); }, "ggml type 77");
  expect_error([&] { load_bytes(mutate(type_at, &qtype, 4)); }, "IQ2_XXS");
  // A K-quant on rows of 64 elements: 256-element blocks do not divide the row.
  expect_error([&] { load_bytes(mutate(type_at, &ktype, 4)); },
               "row length 64 is not a multiple of its block size 256");
  // Its offset: misaligned, out of the file, overlapping the previous tensor.
  const uint64_t odd = 4, far = uint64_t{1} << 40, zero = 0;
  expect_error([&] { load_bytes(mutate(type_at + 4, &odd, 8)); }, "not a multiple");
  expect_error([&] { load_bytes(mutate(type_at + 4, &far, 8)); }, "blk.0.ffn_down.weight");
  expect_error([&] { load_bytes(mutate(type_at + 4, &zero, 8)); }, "overlap");
  // A wrong-typed metadata value is named with its key.
  const size_t key_at = find(good, "llama.block_count");
  const uint32_t str_type = kGgufF32;
  expect_error([&] { load_bytes(mutate(key_at + 17, &str_type, 4)); }, "llama.block_count");
}

// Quantized tensors: a NaN or infinite block scale, and a last block cut off by the end of the
// file, are named errors, never a crash or a silent NaN.
TEST(Gguf, QuantizedScalesAndTruncatedBlocksAreRejected) {
  const std::string good = tiny_gguf(DType::Q8_0, /*matrix_last=*/true);
  EXPECT_NO_THROW(load_bytes(good));
  // ffn_down ([32, 64] = 64 blocks) is the last tensor written: its final block ends the file.
  const size_t end = good.size();
  const int64_t block = dtype_block_bytes(DType::Q8_0);
  for (uint16_t bad : {uint16_t{0x7c00}, uint16_t{0xfe00}}) {
    std::string s = good;
    std::memcpy(&s[end - block], &bad, 2);  // the last block's fp16 scale d
    expect_error([&] { load_bytes(s); },
                 "'blk.0.ffn_down.weight' block 63 has a NaN or infinite scale");
  }
  expect_error([&] { load_bytes(good.substr(0, end - 5)); }, "'blk.0.ffn_down.weight'");
  expect_error([&] { load_bytes(good.substr(0, end - 5)); }, "runs past the end of the file");
}

TEST(Gguf, NestedArraysAndHugeArraysAreRejected) {
  std::string s = "GGUF";
  auto u32 = [&](uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); };
  auto u64 = [&](uint64_t v) { s.append(reinterpret_cast<const char*>(&v), 8); };
  u32(3), u64(0), u64(1), u64(1), s += "a", u32(kGgufArray), u32(kGgufArray), u64(1);
  expect_error([&] { parse_gguf(reinterpret_cast<const uint8_t*>(s.data()), s.size(), "n"); },
               "array of arrays");
  s.resize(s.size() - 12);
  u32(kGgufU64), u64(uint64_t{1} << 58);
  expect_error([&] { parse_gguf(reinterpret_cast<const uint8_t*>(s.data()), s.size(), "n"); },
               "array elements");
}

TEST(Json, StrictParsing) {
  const Json j =
      parse_json(R"({"a": [1, -2.5e3, true, null, "x\u00e9\ud83d\ude00"], "b": {}})", "t");
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j.find("a")->items()[0].integer(), 1);
  EXPECT_DOUBLE_EQ(j.find("a")->items()[1].number(), -2500.0);
  EXPECT_EQ(j.find("a")->items()[4].str(), "x\xC3\xA9\xF0\x9F\x98\x80");
  const std::string deep(200, '[');
  for (const std::string& bad :
       {std::string("{\"a\":1,}"), std::string("[01]"), std::string("{\"a\":1,\"a\":2}"),
        std::string("[1] x"), std::string("\"\x01\""), std::string("[1e999]"), std::string("{a:1}"),
        std::string("[\"\\ud800\"]"), std::string(), deep})
    EXPECT_THROW(parse_json(bad, "t"), Error) << bad;
}

TEST(Json, ErrorsNameTheByteAndLimitsHold) {
  expect_error([] { parse_json("[1] x", "c.json"); }, "c.json: invalid JSON at byte 4: ");
  expect_error([] { parse_json("{\"a\": {\"b\": 1, \"b\": 2}}", "c.json"); },
               "duplicate object key 'b'");
  expect_error([] { parse_json("\"\xFF\"", "c.json"); }, "UTF-8");
  expect_error([] { parse_json("[1] // c", "c.json"); }, "c.json: invalid JSON");
  EXPECT_NO_THROW(parse_json(std::string(128, '[') + std::string(128, ']'), "t"));
  expect_error([] { parse_json(std::string(129, '[') + std::string(129, ']'), "t"); },
               "at byte 128: nesting deeper than 128 levels");
  const Json n =
      parse_json("[9223372036854775807, -9223372036854775808, 9223372036854775808, 1.0]", "t");
  EXPECT_TRUE(n.items()[0].is_int());
  EXPECT_EQ(n.items()[0].integer(), INT64_MAX);
  EXPECT_EQ(n.items()[1].integer(), INT64_MIN);
  EXPECT_FALSE(n.items()[2].is_int());
  EXPECT_DOUBLE_EQ(n.items()[2].number(), 9223372036854775808.0);
  EXPECT_FALSE(n.items()[3].is_int());
  const Json o = parse_json(R"({"z": 1, "a": 2})", "t");  // members keep the file's order
  EXPECT_EQ(o.members()[0].first, "z");
}

std::string safetensors(const std::string& header, size_t data_bytes) {
  std::string h = header;
  while (h.size() % 8) h += ' ';
  uint64_t n = h.size();
  return std::string(reinterpret_cast<const char*>(&n), 8) + h + std::string(data_bytes, '\0');
}

TEST(Safetensors, ValidationNamesTheTensor) {
  auto parse = [](const std::string& s) {
    return parse_safetensors(reinterpret_cast<const uint8_t*>(s.data()), s.size(), "m.safetensors");
  };
  const std::string a = R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]})";
  const std::string b = R"("b":{"dtype":"BF16","shape":[4],"data_offsets":[16,24]})";
  EXPECT_EQ(parse(safetensors("{" + a + "," + b + "}", 24)).size(), 2u);
  expect_error([&] { parse(safetensors("{" + a + "}", 8)); }, "'a'");  // out of file
  expect_error([&] { parse(safetensors("{" + a + "," + b + "}", 32)); }, "not covered");
  expect_error(
      [&] { parse(safetensors(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16)); },
      "needs 12");
  expect_error(
      [&] {
        parse(safetensors(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                          R"("c":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                          16));
      },
      "overlaps");
  expect_error(
      [&] { parse(safetensors(R"({"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})", 8)); },
      "I64");
  std::string huge = safetensors("{}", 0);
  const uint64_t n = uint64_t{1} << 62;
  std::memcpy(&huge[0], &n, 8);
  expect_error([&] { parse(huge); }, "header length");
}

TEST(Hf, NamesRoundTrip) {
  for (const char* c : {"token_embd", "output", "output_norm", "blk.12.attn_q", "blk.0.ffn_down",
                        "blk.3.attn_k.bias"})
    EXPECT_EQ(canonical_from_hf(hf_tensor_name(c)), c);
  EXPECT_EQ(canonical_from_hf("model.layers.01.mlp.up_proj.weight"), "");
  EXPECT_EQ(canonical_from_hf("model.rotary_emb.inv_freq"), "");
}

TEST(Hf, BadConfigsAreRejected) {
  const std::string dir = tmp("hfdir");
  ::mkdir(dir.c_str(), 0755);
  auto cfg = [&](const std::string& j) { spit(dir + "/config.json", j); };
  cfg(R"({"architectures":["GPTNeoXForCausalLM"]})");
  expect_error([&] { load_hf_dir(dir); }, "GPTNeoXForCausalLM");
  cfg(R"({"architectures":["LlamaForCausalLM"],"hidden_size":"64"})");
  expect_error([&] { load_hf_dir(dir); }, "'hidden_size' is a string");
  cfg(R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":8,)"
      R"("num_hidden_layers":1,"num_attention_heads":2,"vocab_size":4})");
  expect_error([&] { load_hf_dir(dir); }, "no model.safetensors");
}

// ---- CLI: conversions of stories260K ------------------------------------------------------

int run(const std::string& args, std::string* out = nullptr) {
  const std::string o = tmp("cli_out");
  const int st = std::system(
      ("timeout 120 '" + test::longctx_bin() + "' " + args + " >'" + o + "' 2>/dev/null </dev/null")
          .c_str());
  if (out) *out = slurp(o);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

std::vector<float> floats(const std::string& p) {
  const std::string b = slurp(p);
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}

TEST(Convert, Stories260KGgufAndHfReproduceReferenceAndDtypesStayClose) {
  if (test::longctx_bin().empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
  const std::string model = test::asset("llama2c/stories260K.bin"),
                    tok = test::asset("llama2c/tok512.bin"),
                    ref = test::asset("reference_outputs/stories260K_greedy_n200.txt");
  LC_REQUIRE_ASSET(model);
  LC_REQUIRE_ASSET(tok);
  LC_REQUIRE_ASSET(ref);
  const std::string gguf = tmp("s.gguf"), hf = tmp("s_hf"), back = tmp("s_back.gguf");
  ASSERT_EQ(run("convert '" + model + "' '" + gguf + "' -z '" + tok + "'"), 0);
  ASSERT_EQ(run("convert '" + model + "' '" + hf + "' --to hf -z '" + tok + "'"), 0);
  ASSERT_EQ(run("convert '" + hf + "' '" + back + "'"), 0);  // HF -> GGUF un-permutes q/k
  std::string text;
  // The GGUF's embedded tokenizer, the HF directory's copied one, and an explicit -z.
  for (const std::string& args :
       {"-m '" + gguf + "'", "-m '" + hf + "'", "-m '" + back + "' -z '" + tok + "'"}) {
    ASSERT_EQ(run("run " + args + " --temp 0 -n 200", &text), 0) << args;
    EXPECT_EQ(text, slurp(ref)) << args;
  }
  // Logits of a converted model vs f32. Tolerance on max|diff| / max|logit|, from the storage
  // rounding unit u of each type (f16 2^-11, bf16 2^-8; q8_0: weights and activations each
  // rounded to half a step of max/127 per block, u <= 2/254), times 4 for error growing over
  // the 5 layers. Measured: f16 5.2e-4, bf16 4.0e-3, q8_0 1.35e-2 (and all argmaxes agree).
  const std::string p = "-p 'Once upon a time, there was a little girl named Lily.'";
  ASSERT_EQ(run("logits --kv-type f32 -m '" + gguf + "' " + p + " --out '" + tmp("f32.bin") + "'"),
            0);
  const std::vector<float> f32 = floats(tmp("f32.bin"));
  ASSERT_GT(f32.size(), 512u * 5);
  float mx = 0;
  for (float v : f32) mx = std::fmax(mx, std::fabs(v));
  const struct {
    const char* dtype;
    double tol;
  } cases[] = {{"f16", 4 * 0x1p-11}, {"bf16", 4 * 0x1p-8}, {"q8_0", 4 * 2.0 / 254}};
  for (const auto& c : cases) {
    const std::string out = tmp(std::string(c.dtype) + ".gguf");
    ASSERT_EQ(run("convert '" + model + "' '" + out + "' --dtype " + c.dtype + " -z '" + tok + "'"),
              0);
    ASSERT_EQ(run("logits --kv-type f32 -m '" + out + "' " + p + " --out '" + tmp("l.bin") + "'"),
              0);
    const std::vector<float> got = floats(tmp("l.bin"));
    ASSERT_EQ(got.size(), f32.size());
    double d = 0;
    for (size_t i = 0; i < got.size(); ++i) d = std::fmax(d, std::fabs(got[i] - f32[i]));
    EXPECT_LT(d / mx, c.tol) << c.dtype;
    std::printf("[ convert ] %s: max|logit diff| / max|logit| = %.3g (tolerance %.3g)\n", c.dtype,
                d / mx, c.tol);
  }
  EXPECT_NE(run("convert '" + model + "' '" + tmp("x_hf") + "' --to hf --dtype q8_0"), 0);
}

}  // namespace
}  // namespace lc
