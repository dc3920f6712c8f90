// Tests of the evaluation harness (src/eval): known-answer NLL from models whose next-token
// distribution is known exactly, NLL bin / landmark bookkeeping, the passkey prompt builder and
// answer parser, the PNG writer (decoded here with a tiny inflate of stored blocks), SHA-256,
// JSON output and input validation.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "attention/config.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/sha256.h"
#include "eval/json_writer.h"
#include "eval/nll.h"
#include "eval/passkey.h"
#include "eval/perplexity.h"
#include "eval/plot_png.h"
#include "eval/png.h"
#include "formats/llama2c.h"
#include "model/llama.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace lc {
namespace {

// ---------------------------------------------------------------------------------------------
// Models with a known next-token distribution, written in llama2.c layout in memory.

struct TinyShape {
  int32_t dim = 16, hidden = 24, layers = 2, heads = 4, kv_heads = 2, vocab = 37, seq = 32;
};

// Every float array of a llama2.c file in order; `fill(name, index)` gives each value.
template <typename Fill>
std::vector<uint8_t> llama2c_bytes(const TinyShape& s, bool shared_classifier, Fill&& fill) {
  const int64_t head_dim = s.dim / s.heads, kv_dim = head_dim * s.kv_heads;
  std::vector<std::pair<const char*, int64_t>> arrays = {
      {"embed", int64_t{s.vocab} * s.dim},
      {"attn_norm", int64_t{s.layers} * s.dim},
      {"wq", int64_t{s.layers} * s.dim * s.dim},
      {"wk", s.layers * kv_dim * s.dim},
      {"wv", s.layers * kv_dim * s.dim},
      {"wo", int64_t{s.layers} * s.dim * s.dim},
      {"ffn_norm", int64_t{s.layers} * s.dim},
      {"w1", int64_t{s.layers} * s.hidden * s.dim},
      {"w2", int64_t{s.layers} * s.dim * s.hidden},
      {"w3", int64_t{s.layers} * s.hidden * s.dim},
      {"out_norm", s.dim},
      {"rope", int64_t{s.seq} * head_dim}};
  if (!shared_classifier) arrays.push_back({"cls", int64_t{s.vocab} * s.dim});
  std::vector<uint8_t> out;
  int32_t header[7] = {s.dim,   s.hidden,   s.layers,
                       s.heads, s.kv_heads, shared_classifier ? s.vocab : -s.vocab,
                       s.seq};
  out.insert(out.end(), reinterpret_cast<uint8_t*>(header),
             reinterpret_cast<uint8_t*>(header) + 28);
  for (const auto& [name, n] : arrays)
    for (int64_t i = 0; i < n; ++i) {
      float v = fill(std::string(name), i);
      const uint8_t* p = reinterpret_cast<const uint8_t*>(&v);
      out.insert(out.end(), p, p + 4);
    }
  return out;
}

std::vector<int> random_tokens(int64_t n, int vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<int> t(static_cast<size_t>(n));
  for (auto& x : t) x = static_cast<int>(rng.next_u32() % static_cast<uint32_t>(vocab));
  t[0] = 1;  // BOS
  return t;
}

std::vector<AttentionConfig> all_policies() {
  std::vector<AttentionConfig> out;
  for (AttnPolicy p :
       {AttnPolicy::Full, AttnPolicy::Window, AttnPolicy::Streaming, AttnPolicy::Lambda}) {
    AttentionConfig c;
    c.policy = p;
    c.window = 8;  // far below the sequence length, so the bounded paths wrap their rings
    out.push_back(c);
  }
  AttentionConfig ceiling;
  ceiling.ceiling = 6;  // full with a distance ceiling
  out.push_back(ceiling);
  return out;
}

TEST(EvalKnownAnswer, ZeroWeightsGiveLogVocabEverywhere) {
  TinyShape s;
  auto bytes = llama2c_bytes(s, true, [](const std::string&, int64_t) { return 0.0f; });
  auto file = load_llama2c_from_memory(bytes.data(), bytes.size(), "zeros");
  LlamaModel model(*file);
  const int64_t n = 150;  // several blocks of 64 and far beyond the trained context of 32
  std::vector<int> toks = random_tokens(n, s.vocab, 3);
  for (const AttentionConfig& attn : all_policies()) {
    Session scorer(model, eval_session_options(attn, n, 2));
    NllStats stats(16, default_landmarks(n));
    score_sequence(scorer, toks.data(), n, stats);
    ASSERT_EQ(stats.count(), n - 1) << attn.label();
    for (size_t b = 0; b < stats.n_bins(); ++b)
      EXPECT_NEAR(stats.bin_mean(b), std::log(static_cast<double>(s.vocab)), 1e-6)
          << attn.label() << " bin " << b;
    EXPECT_NEAR(stats.perplexity(), s.vocab, 1e-4) << attn.label();
  }
}

// Attention and MLP outputs are zero (wo = w2 = 0), so the final hidden state is the embedding
// of the current token: logits = C * rmsnorm(E[t]) and p(next | prefix) depends only on t.
TEST(EvalKnownAnswer, CurrentTokenOnlyModelMatchesAnalyticNll) {
  TinyShape s;
  auto value = [](const std::string& name, int64_t i) -> float {
    if (name == "wo" || name == "w2") return 0.0f;
    if (name.find("norm") != std::string::npos) return 1.0f;
    Rng rng(static_cast<uint64_t>(i) * 7919 + name.size() * 131 + static_cast<uint8_t>(name[0]));
    return rng.normal() * (name == "cls" ? 1.0f : 0.5f);
  };
  auto bytes = llama2c_bytes(s, false, value);
  auto file = load_llama2c_from_memory(bytes.data(), bytes.size(), "current-token");
  LlamaModel model(*file);

  // Analytic log-probabilities, in double.
  std::vector<std::vector<double>> logp(static_cast<size_t>(s.vocab));
  for (int t = 0; t < s.vocab; ++t) {
    std::vector<double> e(static_cast<size_t>(s.dim));
    double ss = 0;
    for (int d = 0; d < s.dim; ++d) {
      e[d] = value("embed", int64_t{t} * s.dim + d);
      ss += e[d] * e[d];
    }
    const double inv = 1.0 / std::sqrt(ss / s.dim + 1e-5);
    std::vector<double> z(static_cast<size_t>(s.vocab));
    double mx = -1e300;
    for (int j = 0; j < s.vocab; ++j) {
      double acc = 0;
      for (int d = 0; d < s.dim; ++d) acc += value("cls", int64_t{j} * s.dim + d) * e[d] * inv;
      z[j] = acc;
      mx = std::max(mx, acc);
    }
    double se = 0;
    for (double v : z) se += std::exp(v - mx);
    for (int j = 0; j < s.vocab; ++j) logp[t].push_back(z[j] - mx - std::log(se));
  }
  const int64_t n = 200, bin = 50;
  std::vector<int> toks = random_tokens(n, s.vocab, 11);
  std::vector<double> want_bins(4, 0.0);
  double want_total = 0;
  for (int64_t p = 1; p < n; ++p) {
    want_bins[static_cast<size_t>(p / bin)] -= logp[toks[p - 1]][toks[p]];
    want_total -= logp[toks[p - 1]][toks[p]];
  }
  for (const AttentionConfig& attn : all_policies()) {
    Session scorer(model, eval_session_options(attn, n, 1));
    NllStats stats(bin, {});
    score_sequence(scorer, toks.data(), n, stats);
    ASSERT_EQ(stats.n_bins(), 4u);
    for (size_t b = 0; b < 4; ++b)
      EXPECT_NEAR(stats.bin_mean(b), want_bins[b] / stats.bin_count(b), 1e-4) << attn.label();
    EXPECT_NEAR(stats.mean_nll(), want_total / (n - 1), 1e-4) << attn.label();

    // Strided windows score every position exactly once, with the same per-token answer.
    NllStats strided(bin, {});
    score_strided(scorer, toks.data(), n, 32, 12, strided);
    EXPECT_EQ(strided.count(), n - 1);
    EXPECT_NEAR(strided.mean_nll(), want_total / (n - 1), 1e-4) << attn.label();
  }
}

TEST(EvalKnownAnswer, StreamCyclesDocumentsAfterBos) {
  TinyShape s;
  auto value = [](const std::string& name, int64_t i) -> float {
    if (name == "wo" || name == "w2") return 0.0f;
    if (name.find("norm") != std::string::npos) return 1.0f;
    Rng rng(static_cast<uint64_t>(i) * 31 + static_cast<uint8_t>(name[0]));
    return rng.normal();
  };
  auto bytes = llama2c_bytes(s, true, value);
  auto file = load_llama2c_from_memory(bytes.data(), bytes.size(), "stream");
  LlamaModel model(*file);
  std::vector<std::vector<int>> docs = {{5, 6, 7, 8, 9}, {10, 11, 12}};
  const int64_t n = 170;
  std::vector<int> explicit_stream = {1};
  for (size_t k = 0; explicit_stream.size() < n; ++k)
    for (int t : docs[k % 2])
      if (explicit_stream.size() < n) explicit_stream.push_back(t);
  AttentionConfig lambda;
  lambda.policy = AttnPolicy::Lambda;
  lambda.window = 16;
  Session scorer(model, eval_session_options(lambda, n, 2));
  NllStats a(64, {}), b(64, {});
  score_stream(scorer, 1, docs, n, a);
  score_sequence(scorer, explicit_stream.data(), n, b);
  ASSERT_EQ(a.count(), n - 1);
  for (size_t k = 0; k < a.n_bins(); ++k) EXPECT_DOUBLE_EQ(a.bin_mean(k), b.bin_mean(k));
}

// ---------------------------------------------------------------------------------------------

TEST(EvalNll, BinsLandmarksAndOverall) {
  // Two sequences: 1200 tokens with nll(p) = p % 3, and 1100 tokens with nll = 1.
  NllStats st(256, {512, 1024, 2048});
  for (int64_t p = 1; p < 1200; ++p) st.add(p, static_cast<double>(p % 3));
  st.end_sequence(1200);
  for (int64_t p = 1; p < 1100; ++p) st.add(p, 1.0);
  st.end_sequence(1100);
  EXPECT_EQ(st.n_sequences(), 2);
  EXPECT_EQ(st.shortest(), 1100);
  ASSERT_EQ(st.n_bins(), 5u);  // positions up to 1199 -> bins 0..4
  auto brute_bin = [](int64_t lo, int64_t hi) {
    double s = 0;
    int64_t c = 0;
    for (int64_t p = std::max<int64_t>(lo, 1); p < hi; ++p) {
      if (p < 1200) s += p % 3, ++c;
      if (p < 1100) s += 1, ++c;
    }
    return std::make_pair(s / c, c);
  };
  for (size_t b = 0; b < 5; ++b) {
    auto [m, c] = brute_bin(256 * b, 256 * (b + 1));
    EXPECT_NEAR(st.bin_mean(b), m, 1e-12) << b;
    EXPECT_EQ(st.bin_count(b), c) << b;
  }
  auto lm = st.landmarks();
  ASSERT_EQ(lm.size(), 2u);  // 2048 is beyond the shortest sequence
  for (size_t k = 0; k < 2; ++k) {
    auto [m, c] = brute_bin(0, lm[k].length);
    EXPECT_EQ(lm[k].count, c);
    EXPECT_NEAR(lm[k].mean_nll, m, 1e-12);
    EXPECT_NEAR(lm[k].perplexity, std::exp(m), 1e-9);
  }
  auto [all, count] = brute_bin(0, 1200);
  EXPECT_EQ(st.count(), count);
  EXPECT_NEAR(st.perplexity(), std::exp(all), 1e-9);
  EXPECT_TRUE(std::isnan(NllStats(8, {}).mean_nll()));
  EXPECT_EQ(default_landmarks(5000), (std::vector<int64_t>{512, 1024, 2048, 4096}));
  EXPECT_TRUE(default_landmarks(100).empty());
}

TEST(EvalNll, TokenNllIsLogSoftmax) {
  const float logits[4] = {1.0f, 2.0f, 3.0f, 1000.0f};
  double z = std::log(std::exp(1.0 - 1000) + std::exp(2.0 - 1000) + std::exp(3.0 - 1000) + 1.0);
  EXPECT_NEAR(token_nll(logits, 4, 3), z, 1e-12);
  EXPECT_NEAR(token_nll(logits, 4, 0), z + 999.0, 1e-9);
  EXPECT_THROW(token_nll(logits, 4, 4), Error);
}

// ---------------------------------------------------------------------------------------------

TEST(EvalPasskey, AnswerParser) {
  EXPECT_EQ(first_integer(" 4821."), "4821");
  EXPECT_EQ(first_integer("the key is 0042 and 17"), "42");
  EXPECT_EQ(first_integer("000"), "0");
  EXPECT_EQ(first_integer("no digits here"), "");
  EXPECT_EQ(first_integer(""), "");
  EXPECT_TRUE(passkey_answer_correct(" 4821. Remember", 4821));
  EXPECT_TRUE(passkey_answer_correct("is 07!", 7));
  EXPECT_FALSE(passkey_answer_correct(" 482", 4821));
  EXPECT_FALSE(passkey_answer_correct(" 48210", 4821));
  EXPECT_FALSE(passkey_answer_correct("twelve", 12));
  EXPECT_FALSE(passkey_answer_correct(" 5 then 4821", 4821));  // only the first integer counts
}

TEST(EvalPasskey, TextHasTheSpecLayout) {
  const std::string t = passkey_text(3, 1, 123);
  const std::string f = kPasskeyFiller;
  EXPECT_EQ(t, std::string(kPasskeyTask) + " " + f +
                   " The pass key is 123. Remember it. 123 is the pass key. " + f + " " + f + " " +
                   kPasskeyQuestion);
  EXPECT_EQ(passkey_text(0, 0, 5),
            std::string(kPasskeyTask) + " " + passkey_needle(5) + " " + kPasskeyQuestion);
  EXPECT_EQ(passkey_text(2, 2, 9).find(passkey_needle(9)) + passkey_needle(9).size() + 1,
            passkey_text(2, 2, 9).find(kPasskeyQuestion));
  EXPECT_THROW(passkey_text(2, 3, 9), Error);
}

TEST(EvalPasskey, PromptHitsTargetLengthFromBelow) {
  const std::string tp = test::asset("llama2c/tok512.bin");
  LC_REQUIRE_ASSET(tp);
  auto tok = load_tokenizer(tp, 512);
  for (int64_t target : {160, 200, 256, 333, 512, 1000, 2048}) {
    for (double u : {0.0, 0.37, 0.999}) {
      const uint64_t key = 4000 + static_cast<uint64_t>(target);
      PasskeyPrompt p = build_passkey_prompt(*tok, target, key, u);
      EXPECT_LE(static_cast<int64_t>(p.tokens.size()), target);
      EXPECT_EQ(p.tokens, tok->encode(p.text, true));
      EXPECT_EQ(p.slot,
                std::min<int64_t>(p.n_fillers, static_cast<int64_t>(u * (p.n_fillers + 1))));
      EXPECT_EQ(p.text, passkey_text(p.n_fillers, p.slot, key));
      // One more filler does not fit.
      int64_t n1 = p.n_fillers + 1,
              slot1 = std::min<int64_t>(n1, static_cast<int64_t>(u * (n1 + 1)));
      EXPECT_GT(static_cast<int64_t>(tok->encode(passkey_text(n1, slot1, key), true).size()),
                target);
      // The needle sits after exactly `slot` fillers.
      const std::string before = p.text.substr(0, p.text.find("The pass key is"));
      int64_t fillers_before = 0;
      for (size_t at = before.find(kPasskeyFiller); at != std::string::npos;
           at = before.find(kPasskeyFiller, at + 1))
        ++fillers_before;
      EXPECT_EQ(fillers_before, p.slot);
    }
  }
  EXPECT_THROW(build_passkey_prompt(*tok, 100, 1234567, 0.5), Error);  // below the overhead
}

TEST(EvalPasskey, DrawsAreSeededAndInRange) {
  uint64_t k1, k2;
  double u1, u2;
  passkey_draw(5, 1024, 3, 2, &k1, &u1);
  passkey_draw(5, 1024, 3, 2, &k2, &u2);
  EXPECT_EQ(k1, k2);
  EXPECT_EQ(u1, u2);
  for (int i = 0; i < 500; ++i) {
    passkey_draw(9, 256, i, 2, &k1, &u1);
    EXPECT_GE(k1, 1u);
    EXPECT_LE(k1, 99u);
    EXPECT_GE(u1, 0.0);
    EXPECT_LT(u1, 1.0);
  }
}

// ---------------------------------------------------------------------------------------------
// PNG: decode what encode_png wrote.

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Inflates a zlib stream with zlib itself (an independent decoder for what encode_png wrote).
std::vector<uint8_t> inflate_zlib(const std::vector<uint8_t>& z, size_t expected) {
  EXPECT_GE(z.size(), 6u);
  EXPECT_EQ(z[0] & 0x0F, 8);                // deflate
  EXPECT_EQ(((z[0] << 8) | z[1]) % 31, 0);  // header check
  std::vector<uint8_t> out(expected + 1);
  uLongf len = out.size();
  EXPECT_EQ(uncompress(out.data(), &len, z.data(), z.size()), Z_OK);
  out.resize(len);
  return out;
}

TEST(EvalPng, ChecksumsMatchKnownValues) {
  const std::string s = "123456789";
  EXPECT_EQ(crc32(reinterpret_cast<const uint8_t*>(s.data()), s.size()), 0xCBF43926u);
  std::vector<uint8_t> big(200000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7 + (i >> 9));
  EXPECT_EQ(inflate_zlib(zlib_compress(big.data(), big.size()), big.size()), big);
  EXPECT_TRUE(inflate_zlib(zlib_compress(nullptr, 0), 0).empty());
  std::vector<uint8_t> flat(300000, 0xAB);  // what plots mostly are
  EXPECT_LT(zlib_compress(flat.data(), flat.size()).size(), 2000u);
}

TEST(EvalPng, EncodedImageDecodes) {
  Image img(37, 21, 0x102030);
  img.set(0, 0, 0xFF0000);
  img.set(36, 20, 0x00FF00);
  img.set(-1, 5, 0x0000FF);  // ignored
  std::vector<uint8_t> png = encode_png(img);
  const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  ASSERT_GE(png.size(), 8u);
  EXPECT_EQ(std::memcmp(png.data(), sig, 8), 0);
  std::vector<std::string> types;
  std::vector<uint8_t> idat;
  for (size_t i = 8; i < png.size();) {
    ASSERT_LE(i + 12, png.size());
    uint32_t len = be32(&png[i]);
    ASSERT_LE(i + 12 + len, png.size());
    std::string type(reinterpret_cast<const char*>(&png[i + 4]), 4);
    types.push_back(type);
    EXPECT_EQ(be32(&png[i + 8 + len]), crc32(&png[i + 4], len + 4)) << type;
    if (type == "IHDR") {
      ASSERT_EQ(len, 13u);
      EXPECT_EQ(be32(&png[i + 8]), 37u);
      EXPECT_EQ(be32(&png[i + 12]), 21u);
      EXPECT_EQ(png[i + 16], 8);  // bit depth
      EXPECT_EQ(png[i + 17], 2);  // RGB
      EXPECT_EQ(png[i + 18], 0);
      EXPECT_EQ(png[i + 19], 0);
      EXPECT_EQ(png[i + 20], 0);
    }
    if (type == "IDAT") idat.insert(idat.end(), png.begin() + i + 8, png.begin() + i + 8 + len);
    i += 12 + len;
  }
  EXPECT_EQ(types, (std::vector<std::string>{"IHDR", "IDAT", "IEND"}));
  std::vector<uint8_t> raw = inflate_zlib(idat, 21u * (1 + 37 * 3));
  ASSERT_EQ(raw.size(), 21u * (1 + 37 * 3));
  for (int y = 0; y < 21; ++y) {
    EXPECT_EQ(raw[y * (1 + 37 * 3)], 0) << "filter byte of row " << y;
    EXPECT_EQ(std::memcmp(&raw[y * (1 + 37 * 3) + 1], &img.rgb[y * 37 * 3], 37 * 3), 0) << y;
  }
  EXPECT_EQ(img.rgb[0], 0xFF);
  EXPECT_EQ(img.rgb[(20 * 37 + 36) * 3 + 1], 0xFF);
}

TEST(EvalPng, LinePlotDrawsSeriesColors) {
  PlotSpec spec;
  spec.title = "t";
  spec.x_label = "position";
  spec.y_label = "NLL";
  spec.x_marks = {50};
  PlotSeries a{"full", {0, 50, 100}, {1, 3, 2}},
      b{"lambda(G=10,L=512,D=512)", {0, 50, 100}, {1, NAN, 1.5}};
  Image img = render_line_plot(spec, {a, b});
  EXPECT_EQ(img.width, 1000);
  EXPECT_EQ(img.height, 560);
  auto count = [&](uint32_t c) {
    int n = 0;
    for (size_t i = 0; i < img.rgb.size(); i += 3)
      n += img.rgb[i] == (c >> 16) && img.rgb[i + 1] == ((c >> 8) & 0xFF) &&
           img.rgb[i + 2] == (c & 0xFF);
    return n;
  };
  EXPECT_GT(count(0x1f77b4), 100);  // first series color
  EXPECT_GT(count(0xd62728), 20);   // second series (legend at least)
  EXPECT_EQ(nice_ticks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(tick_label(12000), "12K");
  EXPECT_EQ(tick_label(0.25), "0.25");
  PlotSpec lg = spec;
  lg.log2_x = true;
  PlotSeries c{"x", {256, 512, 4096}, {0.5, 0.7, 0.9}};
  EXPECT_NO_THROW(render_line_plot(lg, {c}));
  EXPECT_NO_THROW(render_line_plot(spec, {}));  // empty plot still renders axes
}

// ---------------------------------------------------------------------------------------------

TEST(EvalSha256, KnownVectors) {
  EXPECT_EQ(sha256_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc", 3),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(sha256_hex(two.data(), two.size()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 h;  // a million 'a' fed in uneven pieces
  std::string chunk(997, 'a');
  size_t left = 1000000;
  while (left) {
    size_t n = std::min(left, chunk.size());
    h.update(chunk.data(), n);
    left -= n;
  }
  EXPECT_EQ(h.hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_THROW(sha256_file("/nonexistent/model.bin"), Error);
}

TEST(EvalSha256, DirectoryHashesItsFilesInNameOrder) {
  const std::string dir = ::testing::TempDir() + "/longctx_sha_dir_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir + "/sub");
  std::ofstream(dir + "/b.json") << "bb";
  std::ofstream(dir + "/a.bin") << "a";
  const std::string lines = sha256_hex("a", 1) + "  a.bin\n" + sha256_hex("bb", 2) + "  b.json\n";
  EXPECT_EQ(sha256_path(dir), sha256_hex(lines.data(), lines.size()));
  EXPECT_EQ(sha256_path(dir + "/a.bin"), sha256_hex("a", 1));
  EXPECT_THROW(sha256_path("/nonexistent/dir"), Error);
}

TEST(EvalJson, WriterNestsAndEscapes) {
  JsonWriter j;
  j.begin_object().member("a", "x\"y\n").member("n", int64_t{3}).member("f", 0.5);
  j.member("bad", NAN).array("v", std::vector<double>{1, 2}).key("o").begin_object().end_object();
  j.end_object();
  EXPECT_EQ(j.str(),
            "{\n  \"a\": \"x\\\"y\\n\",\n  \"n\": 3,\n  \"f\": 0.5,\n  \"bad\": null,\n"
            "  \"v\": [1, 2],\n  \"o\": {}\n}\n");
  EXPECT_EQ(json_quote("\x01\xFF"), "\"\\u0001\xEF\xBF\xBD\"");  // invalid UTF-8 -> U+FFFD
  JsonWriter open;
  open.begin_array();
  EXPECT_THROW(open.str(), Error);
}

TEST(EvalInput, RejectsEmptyAndBinaryText) {
  EXPECT_THROW(check_text_input("e.txt", ""), Error);
  EXPECT_THROW(check_text_input("nul.txt", std::string("abc\0def", 7)), Error);
  std::string latin1(1000, 'a');
  for (int i = 0; i < 20; ++i) latin1[i * 50] = static_cast<char>(0xE9);  // 2% invalid
  EXPECT_THROW(check_text_input("latin1.txt", latin1), Error);
  latin1.assign(1000, 'a');
  latin1[10] = static_cast<char>(0xE9);  // 0.1%: a stray byte is tolerated
  EXPECT_NO_THROW(check_text_input("ok.txt", latin1));
  EXPECT_NO_THROW(check_text_input("utf8.txt", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_EQ(invalid_utf8_bytes("\xC0\xAF"), 2);      // overlong
  EXPECT_EQ(invalid_utf8_bytes("\xED\xA0\x80"), 3);  // surrogate
  EXPECT_EQ(invalid_utf8_bytes("\xE2\x82"), 2);      // truncated
  try {
    check_text_input("nul.txt", std::string("a\0", 2));
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nul.txt"), std::string::npos);
  }
}

}  // namespace
}  // namespace lc
