// The BASED model end to end (../shared/specs/based.md): random tiny checkpoints written by the
// project's own synthetic generator as Hugging Face directories, loaded back, and run against a
// slow double-precision forward written from the spec (explicit loops for every mixer: the
// causal Taylor polynomial, rotate-half RoPE + windowed softmax, the causal kernel-3 conv) over
// odd lengths, several block / chunk sizes and 1-2 threads; decode after prefill against the
// one-shot forward; the loader's round trip, its optional "model." prefix and ignored keys, and
// bad configs refused by name.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"
#include "core/mmap.h"
#include "eval/nll.h"
#include "eval/perplexity.h"
#include "formats/hf.h"
#include "formats/safetensors.h"
#include "formats/synthetic.h"
#include "model/based.h"
#include "runtime/session.h"
#include "test_util.h"
#include "tokenizer/byte_level.h"

namespace lc {
namespace {

std::string read_file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string temp_dir(const std::string& name) {
  return ::testing::TempDir() + "/longctx_based_" + std::to_string(::getpid()) + "_" + name;
}

// The tiny preset (5 layers: conv, linear, window, conv, conv; vocab 250 padded to 256) with
// weights large enough that every nonlinearity matters (Taylor scores s of order 1).
std::unique_ptr<ModelFile> tiny_model(uint64_t seed = 3, int64_t layers = 5) {
  ModelConfig c = based_preset("tiny");
  if (layers != c.n_layers) {
    c.n_layers = layers;
    c.based.linear_layers.clear();
    c.based.window_layers.clear();
    for (int64_t l = 0; l < layers; ++l) {
      if (l % 5 == 1) c.based.linear_layers.push_back(l);
      if (l % 5 == 2) c.based.window_layers.push_back(l);
    }
  }
  SynthOptions o;
  o.weight_std = 0.15f;
  o.norm_jitter = 0.2f;
  return synthetic_based(c, seed, o);
}

std::string write_tiny_dir(const std::string& name, uint64_t seed = 3) {
  const std::string dir = temp_dir(name);
  write_hf_dir(dir, *tiny_model(seed));
  return dir;
}

// ---- The double-precision reference forward, written from the spec --------------------------

using Mat = std::vector<std::vector<double>>;  // [tokens][width]

const float* f32(const ModelFile& m, const std::string& name) {
  const TensorRef* t = m.find(name);
  EXPECT_NE(t, nullptr) << name;
  EXPECT_EQ(t->dtype, DType::F32) << name;
  return static_cast<const float*>(t->data);
}

// Y[t][r] = sum_k W[r][k] X[t][k] (+ b[r]); W: [rows, cols].
Mat linear(const ModelFile& m, const std::string& w, const Mat& x, const char* bias = nullptr) {
  const TensorRef* t = m.find(w);
  const int64_t rows = t->shape[0], cols = t->shape[1];
  const float* W = f32(m, w);
  const float* b = bias ? f32(m, bias) : nullptr;
  Mat y(x.size(), std::vector<double>(static_cast<size_t>(rows)));
  for (size_t i = 0; i < x.size(); ++i)
    for (int64_t r = 0; r < rows; ++r) {
      double s = b ? b[r] : 0.0;
      for (int64_t k = 0; k < cols; ++k) s += static_cast<double>(W[r * cols + k]) * x[i][k];
      y[i][r] = s;
    }
  return y;
}

Mat rmsnorm(const Mat& x, const float* w, double eps) {
  Mat y = x;
  for (auto& row : y) {
    double ss = 0;
    for (double v : row) ss += v * v;
    const double r = 1.0 / std::sqrt(ss / static_cast<double>(row.size()) + eps);
    for (size_t i = 0; i < row.size(); ++i) row[i] *= r * w[i];
  }
  return y;
}

double silu(double v) { return v / (1.0 + std::exp(-v)); }

// Returns [n][vocab] logits.
Mat reference_forward(const ModelFile& m, const std::vector<int>& toks) {
  const ModelConfig& c = m.config;
  const BasedConfig& b = c.based;
  const int64_t d = c.d_model, n = static_cast<int64_t>(toks.size());
  const float* E = f32(m, "token_embd");
  Mat x(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(d)));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < d; ++i) x[t][i] = E[toks[t] * d + i];
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const Mat h = rmsnorm(x, f32(m, p + "attn_norm"), c.norm_eps);
    Mat y(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(d), 0.0));
    const BasedMixer mixer = b.mixer(l);
    if (mixer == BasedMixer::Window) {  // sliding-window softmax attention, RoPE rotate-half
      Mat qkv = linear(m, p + "attn_qkv", h);
      const int64_t H = c.n_heads, hd = d / H, half = hd / 2;
      for (int64_t t = 0; t < n; ++t)
        for (int64_t hh = 0; hh < H; ++hh)
          for (int64_t part = 0; part < 2; ++part)  // q, k
            for (int64_t i = 0; i < half; ++i) {
              double* v = &qkv[t][part * d + hh * hd];
              const double a = t * std::pow(c.rope_theta, -2.0 * i / hd);
              const double x1 = v[i], x2 = v[i + half];
              v[i] = x1 * std::cos(a) - x2 * std::sin(a);
              v[i + half] = x2 * std::cos(a) + x1 * std::sin(a);
            }
      const int64_t back = b.window_size / 2;
      for (int64_t t = 0; t < n; ++t)
        for (int64_t hh = 0; hh < H; ++hh) {
          const int64_t j0 = std::max<int64_t>(0, t - back);
          std::vector<double> s;
          double mx = -1e300;
          for (int64_t j = j0; j <= t; ++j) {
            double dot = 0;
            for (int64_t i = 0; i < hd; ++i) dot += qkv[t][hh * hd + i] * qkv[j][d + hh * hd + i];
            s.push_back(dot / std::sqrt(static_cast<double>(hd)));
            mx = std::max(mx, s.back());
          }
          double z = 0;
          for (double& v : s) z += (v = std::exp(v - mx));
          for (int64_t j = j0; j <= t; ++j)
            for (int64_t i = 0; i < hd; ++i)
              y[t][hh * hd + i] += s[j - j0] / z * qkv[j][2 * d + hh * hd + i];
        }
      y = linear(m, p + "attn_output", y);
    } else if (mixer == BasedMixer::Linear) {  // Taylor linear attention, quadratic form
      const Mat q = linear(m, p + "attn_q", h), k = linear(m, p + "attn_k", h),
                v = linear(m, p + "attn_v", h);
      const int64_t H = b.linear_heads, f = b.feature_dim, dv = d / H;
      for (int64_t t = 0; t < n; ++t)
        for (int64_t hh = 0; hh < H; ++hh) {
          double den = 0;
          std::vector<double> num(static_cast<size_t>(dv), 0.0);
          for (int64_t j = 0; j <= t; ++j) {
            double s = 0;
            for (int64_t i = 0; i < f; ++i) s += q[t][hh * f + i] * k[j][hh * f + i];
            s /= std::sqrt(static_cast<double>(f));
            const double w = 1 + s + s * s / 2;
            den += w;
            for (int64_t i = 0; i < dv; ++i) num[i] += w * v[j][hh * dv + i];
          }
          for (int64_t i = 0; i < dv; ++i) y[t][hh * dv + i] = num[i] / (den + 1e-12);
        }
      y = linear(m, p + "attn_output", y);
    } else {  // BaseConv
      const Mat u = linear(m, p + "conv_in", h, (p + "conv_in.bias").c_str());
      const float* w = f32(m, p + "conv_kernel");  // [2d][1][3]
      Mat g(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(2 * d)));
      for (int64_t t = 0; t < n; ++t)
        for (int64_t ch = 0; ch < 2 * d; ++ch) {
          double cv = 0;
          for (int64_t tap = 0; tap < 3; ++tap) {
            const int64_t src = t - 2 + tap;
            if (src >= 0) cv += w[ch * 3 + tap] * u[src][ch];
          }
          g[t][ch] = silu(cv) * u[t][2 * d + ch];
        }
      y = linear(m, p + "attn_output", g, (p + "attn_output.bias").c_str());
    }
    for (int64_t t = 0; t < n; ++t)
      for (int64_t i = 0; i < d; ++i) x[t][i] += y[t][i];
    const Mat f1 = linear(m, p + "ffn_fc1", rmsnorm(x, f32(m, p + "ffn_norm"), c.norm_eps));
    Mat mid(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(c.hidden)));
    for (int64_t t = 0; t < n; ++t)
      for (int64_t i = 0; i < c.hidden; ++i) mid[t][i] = f1[t][i] * silu(f1[t][c.hidden + i]);
    const Mat o = linear(m, p + "ffn_down", mid);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t i = 0; i < d; ++i) x[t][i] += o[t][i];
  }
  const Mat hf = rmsnorm(x, f32(m, "output_norm"), c.norm_eps);
  Mat logits(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(c.vocab_size)));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t v = 0; v < c.vocab_size; ++v) {
      double s = 0;
      for (int64_t i = 0; i < d; ++i) s += E[v * d + i] * hf[t][i];
      logits[t][v] = s;
    }
  return logits;
}

double rel_err_vs(const std::vector<float>& got, const Mat& ref) {
  double mx = 0, diff = 0;
  const size_t vocab = ref[0].size();
  for (size_t t = 0; t < ref.size(); ++t)
    for (size_t v = 0; v < vocab; ++v) {
      mx = std::max(mx, std::fabs(ref[t][v]));
      diff = std::max(diff, std::fabs(got[t * vocab + v] - ref[t][v]));
    }
  return diff / mx;
}

// ---- Tests ----------------------------------------------------------------------------------

TEST(BasedModel, MatchesDoubleReferenceAcrossBlocksChunksThreads) {
  auto file = load_model_file(write_tiny_dir("ref"));
  ASSERT_EQ(file->config.arch, Arch::Based);
  BasedModel model(*file);
  EXPECT_EQ(model.n_linear(), 1);
  EXPECT_EQ(model.n_window(), 1);
  EXPECT_EQ(model.n_conv(), 3);
  const int64_t vocab = model.vocab_size();
  EXPECT_EQ(vocab, 250);
  for (int64_t n : {1, 2, 7, 37}) {  // 37 > window/2 + 1 = 9 keys: the window slides
    const auto toks = test::random_tokens(n, vocab, 100 + static_cast<uint64_t>(n));
    const Mat ref = reference_forward(*file, toks);
    for (int threads : {1, 2})
      for (int64_t block : {1, 5, 16, 64})
        for (int64_t chunk : {1, 3, 8, 64}) {
          SessionOptions o;
          o.n_threads = threads;
          o.block_tokens = block;
          o.chunk = chunk;
          Session s(model, o);
          std::vector<float> got(static_cast<size_t>(n * vocab));
          s.all_logits(toks.data(), n, got.data());
          EXPECT_LT(rel_err_vs(got, ref), 2e-5)
              << "n " << n << " threads " << threads << " block " << block << " chunk " << chunk;
        }
  }
}

TEST(BasedModel, DecodeAfterPrefillEqualsOneShotAtEveryStep) {
  auto file = load_model_file(write_tiny_dir("decode"));
  BasedModel model(*file);
  const int64_t vocab = model.vocab_size(), n = 41;
  const auto toks = test::random_tokens(n, vocab, 9);
  SessionOptions o;
  o.block_tokens = 16;
  o.chunk = 5;
  Session one(model, o);
  std::vector<float> all(static_cast<size_t>(n * vocab));
  one.all_logits(toks.data(), n, all.data());
  const Mat ref = reference_forward(*file, toks);
  EXPECT_LT(rel_err_vs(all, ref), 2e-5);
  for (int64_t prompt : {1, 3, 17}) {
    Session s(model, o);
    const size_t before = s.state_bytes();
    const float* l = s.prefill(toks.data(), prompt);
    EXPECT_LT(test::rel_err(l, all.data() + (prompt - 1) * vocab, vocab), 1e-5) << prompt;
    for (int64_t t = prompt; t < n; ++t) {
      l = s.decode(toks[t]);
      EXPECT_LT(test::rel_err(l, all.data() + t * vocab, vocab), 1e-5)
          << "prompt " << prompt << " step " << t;
    }
    EXPECT_EQ(s.pos(), n);
    EXPECT_EQ(s.state_bytes(), before);  // fixed-size state
    s.reset();
    l = s.prefill(toks.data(), 4);  // reset forgets everything
    EXPECT_LT(test::rel_err(l, all.data() + 3 * vocab, vocab), 1e-5);
  }
}

TEST(BasedModel, StateBytesFollowTheSpecFormula) {
  auto file = load_model_file(write_tiny_dir("state"));
  BasedModel model(*file);
  SessionOptions o;
  o.block_tokens = 1;
  Session s(model, o);
  const ModelConfig& c = file->config;
  const int64_t d = c.d_model, H = c.based.linear_heads, f = c.based.feature_dim;
  // Lower bound from the spec's values (packed Taylor features, ring of window/2 + 1 keys and
  // values, two previous u1 rows), each padded at most by alignment.
  const int64_t values = H * (d / H + 1) * taylor_features(f) +
                         2 * (c.based.window_size / 2 + 1) * d + 3 * 2 * (2 * d);
  EXPECT_GE(s.state_bytes(), static_cast<size_t>(4 * values));
  EXPECT_LE(s.state_bytes(), static_cast<size_t>(4 * values) + 4096);
}

// The sliding-window rings in bf16 / f16 (--kv-type): the state shrinks by the rings' halved
// bytes and the logits stay within the types' rounding of f32's, prefill and decode alike.
TEST(BasedModel, WindowRingsInNarrowerTypes) {
  auto file = load_model_file(write_tiny_dir("kvtypes"));
  BasedModel model(*file);
  const ModelConfig& c = file->config;
  const int64_t vocab = model.vocab_size(), n = 40;
  const auto toks = test::random_tokens(n, vocab, 11);
  auto logits = [&](DType t, size_t* bytes) {
    SessionOptions o;
    o.block_tokens = 8;
    o.attn.k_type = o.attn.v_type = t;
    Session s(model, o);
    std::vector<float> out(static_cast<size_t>(n * vocab));
    s.all_logits(toks.data(), n, out.data());
    *bytes = s.state_bytes();
    EXPECT_EQ(s.label(),
              t == DType::F32 ? "based" : std::string("based+kv(") + dtype_name(t) + ")");
    return out;
  };
  size_t b32 = 0, b16 = 0;
  const auto ref = logits(DType::F32, &b32);
  for (DType t : {DType::BF16, DType::F16}) {
    const auto got = logits(t, &b16);
    // Rings of window/2 + block - 1 slots per window layer, keys and values, 2 bytes saved each.
    const size_t saved = static_cast<size_t>(2 * (c.based.window_size / 2 + 8) * c.d_model * 2);
    EXPECT_EQ(b32 - b16, saved * static_cast<size_t>(model.n_window())) << dtype_name(t);
    const double err = test::rel_err(got.data(), ref.data(), got.size());
    EXPECT_GT(err, 0.0) << dtype_name(t);  // the narrower rings are really used
    EXPECT_LT(err, t == DType::BF16 ? 2e-2 : 3e-3) << dtype_name(t);
  }
}

TEST(BasedLoader, RoundTripKeepsConfigAndTensors) {
  auto m = tiny_model(5);
  const std::string dir = temp_dir("roundtrip");
  write_hf_dir(dir, *m);
  auto r = load_model_file(dir);
  const ModelConfig &a = m->config, &b = r->config;
  EXPECT_EQ(b.arch, Arch::Based);
  EXPECT_EQ(b.d_model, a.d_model);
  EXPECT_EQ(b.n_layers, a.n_layers);
  EXPECT_EQ(b.n_heads, a.n_heads);
  EXPECT_EQ(b.hidden, a.hidden);
  EXPECT_EQ(b.vocab_size, 250);
  EXPECT_EQ(b.based.padded_vocab, 256);
  EXPECT_EQ(b.based.linear_layers, a.based.linear_layers);
  EXPECT_EQ(b.based.window_layers, a.based.window_layers);
  EXPECT_EQ(b.based.linear_heads, a.based.linear_heads);
  EXPECT_EQ(b.based.feature_dim, a.based.feature_dim);
  EXPECT_EQ(b.based.window_size, a.based.window_size);
  EXPECT_EQ(b.rope_theta, a.rope_theta);
  EXPECT_FLOAT_EQ(b.norm_eps, a.norm_eps);
  ASSERT_EQ(r->tensors.size(), m->tensors.size());
  for (const TensorRef& t : m->tensors) {
    const TensorRef* u = r->find(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    EXPECT_EQ(u->shape, t.shape) << t.name;
    EXPECT_EQ(std::memcmp(u->data, t.data, static_cast<size_t>(4 * t.numel())), 0) << t.name;
  }
  // Checkpoint names as the spec gives them.
  EXPECT_EQ(hf_tensor_name("blk.4.conv_kernel", Arch::Based),
            "transformer.layers.4.mixer.conv.conv.weight");
  EXPECT_EQ(canonical_from_hf("transformer.layers.2.mixer.Wqkv.weight", Arch::Based),
            "blk.2.attn_qkv");
  EXPECT_EQ(canonical_from_hf("transformer.embeddings.word_embeddings.weight", Arch::Based),
            "token_embd");
}

TEST(BasedLoader, NInnerRoundedUpAndVocabPadded) {
  ModelConfig c = based_preset("tiny");
  c.hidden = 256;
  c.vocab_size = 253;
  SynthOptions o;
  auto m = synthetic_based(c, 1, o);
  EXPECT_EQ(m->find("token_embd")->shape[0], 256);
  const std::string dir = temp_dir("inner");
  write_hf_dir(dir, *m);
  // n_inner 128 in config.json must mean a hidden width of 256 (the spec's rounding).
  std::string cfg = read_file_text(dir + "/config.json");
  const size_t at = cfg.find("\"n_inner\": 256");
  ASSERT_NE(at, std::string::npos);
  cfg.replace(at, 14, "\"n_inner\": 128");
  write_file_atomic("test", dir + "/config.json", {{cfg.data(), cfg.size()}});
  auto r = load_model_file(dir);
  EXPECT_EQ(r->config.hidden, 256);
  EXPECT_EQ(r->config.vocab_size, 253);
  EXPECT_EQ(r->config.based.padded_vocab, 256);
  BasedModel model(*r);
  Session s(model, {});
  const int tok = 252;
  const float* l = s.prefill(&tok, 1);
  EXPECT_TRUE(std::isfinite(l[252]));
  const int bad = 253;  // a padding row: not a token
  test::expect_error([&] { s.prefill(&bad, 1); }, {"253", "out of range"});
}

// Rewrites DIR/model.safetensors with every key prefixed by "model." and extra tensors a
// checkpoint may carry (training metrics, a decay buffer, a RoPE inv_freq buffer).
void prefix_and_extend(const std::string& dir) {
  MappedFile f(dir + "/model.safetensors");
  auto ts = parse_safetensors(f.data(), f.size(), f.path());
  std::string header = "{";
  std::vector<std::pair<const void*, size_t>> data;
  uint64_t off = 0;
  static const float extra[4] = {1, 2, 3, 4};
  auto add = [&](const std::string& name, const std::string& dt, const std::string& shape,
                 const void* p, uint64_t bytes) {
    header += (header.size() > 1 ? "," : "") + std::string("\"") + name + "\":{\"dtype\":\"" + dt +
              "\",\"shape\":" + shape + ",\"data_offsets\":[" + std::to_string(off) + "," +
              std::to_string(off + bytes) + "]}";
    data.emplace_back(p, static_cast<size_t>(bytes));
    off += bytes;
  };
  for (const auto& t : ts) {
    std::string shape = "[";
    for (size_t i = 0; i < t.shape.size(); ++i)
      shape += (i ? "," : "") + std::to_string(t.shape[i]);
    add("model." + t.name, "F32", shape + "]", t.data, t.bytes);
  }
  add("model.metrics.train_loss", "F32", "[4]", extra, 16);
  add("model.transformer.layers.1.mixer.decay", "F32", "[4]", extra, 16);
  add("model.transformer.layers.2.mixer.rotary_emb.inv_freq", "F32", "[4]", extra, 16);
  header += "}";
  while (header.size() % 8) header += ' ';
  const uint64_t hlen = header.size();
  std::vector<std::pair<const void*, size_t>> parts = {{&hlen, 8}, {header.data(), header.size()}};
  parts.insert(parts.end(), data.begin(), data.end());
  write_file_atomic("test", dir + "/model.safetensors.new", parts);
  ASSERT_EQ(
      std::rename((dir + "/model.safetensors.new").c_str(), (dir + "/model.safetensors").c_str()),
      0);
}

TEST(BasedLoader, ModelPrefixAndIgnoredKeys) {
  const std::string plain = write_tiny_dir("plain", 11), pre = write_tiny_dir("prefixed", 11);
  prefix_and_extend(pre);
  auto a = load_model_file(plain), b = load_model_file(pre);
  ASSERT_EQ(a->tensors.size(), b->tensors.size());
  BasedModel ma(*a), mb(*b);
  const auto toks = test::random_tokens(13, ma.vocab_size(), 2);
  Session sa(ma, {}), sb(mb, {});
  std::vector<float> la(13 * 250), lb(13 * 250);
  sa.all_logits(toks.data(), 13, la.data());
  sb.all_logits(toks.data(), 13, lb.data());
  EXPECT_EQ(la, lb);
}

TEST(BasedLoader, ConfigWithoutArchitecturesIsBased) {
  const std::string dir = write_tiny_dir("noarch");
  std::string cfg = read_file_text(dir + "/config.json");
  const std::string line = "  \"architectures\": [\"BasedForCausalLM\"],\n";
  ASSERT_NE(cfg.find(line), std::string::npos);
  cfg.erase(cfg.find(line), line.size());
  write_file_atomic("test", dir + "/config.json", {{cfg.data(), cfg.size()}});
  auto r = load_model_file(dir);
  EXPECT_EQ(r->config.arch, Arch::Based);
  BasedModel m(*r);
}

// Writes the tiny directory with one config.json substitution and expects the load (or the
// model's binding) to fail naming every needle.
void expect_bad_config(const std::string& name, const std::string& from, const std::string& to,
                       const std::vector<std::string>& needles) {
  SCOPED_TRACE(name);
  const std::string dir = write_tiny_dir("bad_" + name);
  std::string cfg = read_file_text(dir + "/config.json");
  const size_t at = cfg.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  cfg.replace(at, from.size(), to);
  write_file_atomic("test", dir + "/config.json", {{cfg.data(), cfg.size()}});
  test::expect_error([&] { BasedModel m(*load_model_file(dir)); }, needles);
}

TEST(BasedLoader, BadConfigsRefusedByName) {
  // Layer lists that disagree with the tensors.
  expect_bad_config("nolinear", "\"alt_mixer_layers\": [1]", "\"alt_mixer_layers\": []",
                    {"layer 1", "BaseConv", "transformer.layers.1.mixer.in_proj.weight"});
  expect_bad_config("swapped", "\"alt_mixer_2_layers\": [2]", "\"alt_mixer_2_layers\": [3]",
                    {"layer 2", "transformer.layers.2.mixer"});
  expect_bad_config("range", "\"alt_mixer_layers\": [1]", "\"alt_mixer_layers\": [1, 5]",
                    {"alt_mixer_layers", "[0, 5)"});
  expect_bad_config("twice", "\"alt_mixer_layers\": [1]", "\"alt_mixer_layers\": [1, 1]",
                    {"alt_mixer_layers", "twice"});
  // Head counts / feature dims that disagree with the tensors.
  expect_bad_config("heads", "\"num_heads\": 4, \"feature_dim\"",
                    "\"num_heads\": 2, \"feature_dim\"",
                    {"layer 1", "linear attention", "transformer.layers.1.mixer.proj_q.weight",
                     "[32, 64]", "[16, 64]"});
  expect_bad_config("fdim", "\"feature_dim\": 8", "\"feature_dim\": 16",
                    {"layer 1", "transformer.layers.1.mixer.proj_q.weight"});
  expect_bad_config("nhead", "\"n_head\": 4", "\"n_head\": 6", {"n_embd 64", "n_head 6"});
  // Unknown mixer entries.
  expect_bad_config("target", "linear_attention.LinearAttention", "mamba.Mamba",
                    {"alt_mixer._target_", "unknown mixer"});
  expect_bad_config("fmap", "linear_attention.TaylorExp", "linear_attention.PosELU",
                    {"alt_mixer.feature_map._target_"});
  expect_bad_config("conv", "convolution.BaseConv", "hyena.Hyena", {"mixer._target_"});
}

TEST(BasedLoader, UnknownTensorRefused) {
  // A stray weight (not a buffer, not metrics) must not be dropped silently.
  ModelConfig c = based_preset("tiny");
  auto m = synthetic_based(c, 3);
  Rng rng(1);
  add_random_tensor(*m, "blk.0.attn_q", {32, 64}, rng, 0.1f);  // a linear tensor in a conv layer
  const std::string dir2 = temp_dir("stray");
  write_hf_dir(dir2, *m);
  test::expect_error([&] { BasedModel b(*load_model_file(dir2)); },
                     {"layer 0", "transformer.layers.0.mixer.proj_q.weight", "another mixer"});
}

TEST(BasedCli, SynthLogitsAndAttentionFlagsRefused) {
  const std::string bin = test::longctx_bin();
  if (bin.empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
  const std::string dir = temp_dir("cli");
  ASSERT_EQ(std::system((bin + " synth-model --arch based --preset tiny --layers 3 --dim 32 -o " +
                         dir + " 2>/dev/null")
                            .c_str()),
            0);
  auto file = load_model_file(dir);
  EXPECT_EQ(file->config.d_model, 32);
  EXPECT_EQ(file->config.based.linear_layers, std::vector<int64_t>{1});
  EXPECT_EQ(file->config.based.window_layers, std::vector<int64_t>{2});
  const std::string out = dir + "/logits.bin";
  ASSERT_EQ(std::system((bin + " logits -m " + dir + " --tokens 3,1,4,1,5 --kv-type f32 --out " +
                         out + " 2>/dev/null")
                            .c_str()),
            0);
  BasedModel model(*file);
  Session s(model, {});
  const std::vector<int> toks = {3, 1, 4, 1, 5};
  std::vector<float> want(5 * 250);
  s.all_logits(toks.data(), 5, want.data());
  const std::string got = read_file_text(out);
  ASSERT_EQ(got.size(), want.size() * 4);
  EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size()), 0);
  EXPECT_NE(std::system((bin + " bench -m " + dir + " --attn window 2>/dev/null").c_str()), 0);
}

// The evaluations' scoring session over a BASED model: blocks of uneven sizes give the logits of
// one forward over the whole sequence, and score_sequence's mean NLL is the log-softmax of those.
TEST(BasedScoring, BlocksEqualOneShotAndNllMatches) {
  auto file = tiny_model(5);
  BasedModel model(*file);
  const int64_t n = 150, V = model.vocab_size();
  std::vector<int> toks(n);
  for (int64_t i = 0; i < n; ++i) toks[i] = static_cast<int>((i * 37 + 11) % V);
  Session s(model, {});
  std::vector<float> want(n * V);
  s.all_logits(toks.data(), n, want.data());
  SessionOptions so;
  so.n_threads = 2;
  Session scorer(model, so);
  EXPECT_EQ(scorer.vocab_size(), V);
  EXPECT_EQ(scorer.label(), "based");
  EXPECT_GT(scorer.state_bytes(), 0u);
  for (int pass = 0; pass < 2; ++pass) {  // the second pass checks reset()
    scorer.reset();
    int64_t pos = 0;
    for (int64_t blk : {1, 63, 64, 5, 17}) {
      const float* got = scorer.forward_all(toks.data() + pos, blk);
      for (int64_t i = 0; i < blk * V; ++i)
        ASSERT_NEAR(got[i], want[pos * V + i], 2e-4f * (1 + std::fabs(want[pos * V + i])))
            << "pass " << pass << " row " << pos + i / V;
      pos += blk;
    }
    EXPECT_EQ(scorer.pos(), n);
  }
  NllStats stats(50, {n});
  score_sequence(scorer, toks.data(), n, stats);
  double sum = 0;
  for (int64_t i = 0; i + 1 < n; ++i) {
    const float* z = want.data() + i * V;
    double mx = z[0], se = 0;
    for (int64_t v = 1; v < V; ++v) mx = std::max(mx, static_cast<double>(z[v]));
    for (int64_t v = 0; v < V; ++v) se += std::exp(z[v] - mx);
    sum += mx + std::log(se) - z[toks[i + 1]];
  }
  EXPECT_EQ(stats.count(), n - 1);
  EXPECT_NEAR(stats.mean_nll(), sum / static_cast<double>(n - 1), 1e-4);
  EXPECT_THROW(scorer.forward_all(toks.data(), 65), Error);
}

TEST(BasedCli, PplScoresABasedDirectory) {
  const std::string bin = test::longctx_bin();
  if (bin.empty()) GTEST_SKIP() << "LONGCTX_BIN not set";
  const std::string dir = temp_dir("ppl");
  ASSERT_EQ(std::system((bin + " synth-model --arch based --preset tiny --vocab 300 -o " + dir +
                         " 2>/dev/null")
                            .c_str()),
            0);
  std::ofstream(dir + "/tokenizer.json") << byte_level_tokenizer_json();
  const std::string text = dir + "/text.txt", json = dir + "/ppl.json";
  std::ofstream(text) << std::string(500, 'a') << "bcd";
  ASSERT_EQ(std::system((bin + " ppl -m " + dir + " -f " + text +
                         " --bin 100 --kv-type f32 --json " + json + " >/dev/null 2>&1")
                            .c_str()),
            0);
  const std::string j = read_file_text(json);
  EXPECT_NE(j.find("\"resolved_label\": \"based\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"positions_scored\": 503"), std::string::npos) << j;
  EXPECT_NE(
      std::system((bin + " ppl -m " + dir + " -f " + text + " --attn lambda 2>/dev/null").c_str()),
      0);
}

}  // namespace
}  // namespace lc
