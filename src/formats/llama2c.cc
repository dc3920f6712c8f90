#include "formats/llama2c.h"

#include <cstdio>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace lc {

namespace {

constexpr int64_t kHeaderBytes = 7 * 4;
// Generous sanity bounds so that garbage headers fail fast instead of overflowing arithmetic.
constexpr int64_t kMaxDim = 1 << 16, kMaxLayers = 1024, kMaxVocab = 1 << 22, kMaxCtx = 1 << 24;

struct Layout {
  int64_t dim, hidden, layers, heads, kv_heads, vocab, seq_len, head_dim, kv_dim;
  bool shared;
  // Number of floats of each section in file order.
  int64_t floats_total() const {
    int64_t n = vocab * dim;         // token embedding
    n += layers * dim;               // attention norms
    n += layers * dim * dim;         // wq
    n += 2 * layers * kv_dim * dim;  // wk, wv
    n += layers * dim * dim;         // wo
    n += layers * dim;               // ffn norms
    n += 3 * layers * hidden * dim;  // w1, w2, w3
    n += dim;                        // final norm
    n += seq_len * head_dim;         // legacy RoPE tables (2 x seq_len*head_dim/2)
    if (!shared) n += vocab * dim;   // classifier
    return n;
  }
};

Layout parse_header(const std::string& path, const uint8_t* p, size_t size) {
  if (size < kHeaderBytes)
    fail(path, ": file is ", size, " bytes, too small for a llama2.c header (28 bytes)");
  int32_t h[7];
  std::memcpy(h, p, sizeof h);
  const char* names[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                          "n_kv_heads", "vocab_size", "seq_len"};
  const int64_t max[7] = {kMaxDim, 4 * kMaxDim, kMaxLayers, kMaxDim, kMaxDim, kMaxVocab, kMaxCtx};
  for (int i = 0; i < 7; ++i) {
    int64_t v = i == 5 ? (h[i] < 0 ? -static_cast<int64_t>(h[i]) : h[i]) : h[i];
    if (v <= 0 || v > max[i])
      fail(path, ": llama2.c header field ", names[i], " = ", h[i], " is out of range [1, ", max[i],
           "] (not a llama2.c model?)");
  }
  Layout L{};
  L.dim = h[0];
  L.hidden = h[1];
  L.layers = h[2];
  L.heads = h[3];
  L.kv_heads = h[4];
  L.shared = h[5] > 0;
  L.vocab = h[5] < 0 ? -static_cast<int64_t>(h[5]) : h[5];
  L.seq_len = h[6];
  if (L.dim % L.heads != 0) fail(path, ": dim ", L.dim, " is not divisible by n_heads ", L.heads);
  L.head_dim = L.dim / L.heads;
  if (L.head_dim % 2 != 0) fail(path, ": head_dim ", L.head_dim, " must be even for RoPE");
  if (L.kv_heads > L.heads || L.heads % L.kv_heads != 0)
    fail(path, ": n_heads ", L.heads, " is not a multiple of n_kv_heads ", L.kv_heads);
  L.kv_dim = L.kv_heads * L.head_dim;
  int64_t expected = kHeaderBytes + 4 * L.floats_total();
  if (static_cast<int64_t>(size) != expected)
    fail(path, ": file size ", size, " does not match the header (dim ", L.dim, ", hidden ",
         L.hidden, ", layers ", L.layers, ", heads ", L.heads, ", kv_heads ", L.kv_heads,
         ", vocab ", h[5], ", seq_len ", L.seq_len, " => expected ", expected,
         " bytes): truncated, padded or not a llama2.c model");
  return L;
}

}  // namespace

std::unique_ptr<ModelFile> load_llama2c(MappedFile file) {
  auto mf = load_llama2c_from_memory(file.data(), file.size(), file.path());
  mf->mappings.push_back(std::move(file));
  return mf;
}

std::unique_ptr<ModelFile> load_llama2c_from_memory(const uint8_t* data, size_t size,
                                                    const std::string& name) {
  auto mf = std::make_unique<ModelFile>();
  mf->path = name;
  Layout L = parse_header(mf->path, data, size);
  ModelConfig& c = mf->config;
  c.arch = Arch::Llama;
  c.d_model = L.dim;
  c.hidden = L.hidden;
  c.n_layers = L.layers;
  c.n_heads = L.heads;
  c.n_kv_heads = L.kv_heads;
  c.head_dim = L.head_dim;
  c.vocab_size = L.vocab;
  c.ctx_len = L.seq_len;
  c.norm_eps = 1e-5f;
  c.rope_theta = 10000.0;
  c.rope_style = ops::RopeStyle::AdjacentPairs;
  c.tied_embeddings = L.shared;

  const float* p = reinterpret_cast<const float*>(data + kHeaderBytes);
  auto take = [&](const std::string& name, std::vector<int64_t> shape) {
    TensorRef t;
    t.name = name;
    t.dtype = DType::F32;
    t.shape = std::move(shape);
    t.data = p;
    p += t.numel();
    mf->tensors.push_back(std::move(t));
  };
  // Stacked per-layer arrays: one tensor per layer, in the file's section order.
  auto take_layers = [&](const char* suffix, std::vector<int64_t> shape) {
    for (int64_t l = 0; l < L.layers; ++l) take("blk." + std::to_string(l) + "." + suffix, shape);
  };
  take("token_embd", {L.vocab, L.dim});
  take_layers("attn_norm", {L.dim});
  take_layers("attn_q", {L.dim, L.dim});
  take_layers("attn_k", {L.kv_dim, L.dim});
  take_layers("attn_v", {L.kv_dim, L.dim});
  take_layers("attn_output", {L.dim, L.dim});
  take_layers("ffn_norm", {L.dim});
  take_layers("ffn_gate", {L.hidden, L.dim});
  take_layers("ffn_down", {L.dim, L.hidden});
  take_layers("ffn_up", {L.hidden, L.dim});
  take("output_norm", {L.dim});
  p += L.seq_len * L.head_dim;  // legacy RoPE tables, unused
  if (!L.shared) take("output", {L.vocab, L.dim});
  return mf;
}

void write_synthetic_llama2c(const std::string& path, const SynthSpec& s) {
  Layout L{};
  L.dim = s.d_model;
  L.hidden = s.hidden;
  L.layers = s.n_layers;
  L.heads = s.n_heads;
  L.kv_heads = s.n_kv_heads;
  L.vocab = s.vocab_size;
  L.seq_len = s.ctx_len;
  L.shared = s.shared_classifier;
  check(L.dim > 0 && L.hidden > 0 && L.layers > 0 && L.heads > 0 && L.kv_heads > 0 && L.vocab > 0 &&
            L.seq_len > 0,
        "synth-model: every size must be positive");
  check(L.dim % L.heads == 0, "synth-model: --dim ", L.dim, " must be divisible by --heads ",
        L.heads);
  L.head_dim = L.dim / L.heads;
  check(L.head_dim % 2 == 0, "synth-model: head_dim ", L.head_dim, " must be even");
  check(L.heads % L.kv_heads == 0, "synth-model: --heads ", L.heads,
        " must be a multiple of --kv-heads ", L.kv_heads);
  L.kv_dim = L.kv_heads * L.head_dim;

  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail(path, ": cannot open for writing");
  Rng rng(s.seed);
  std::vector<float> buf(1 << 16);
  bool ok = true;
  int32_t h[7] = {
      static_cast<int32_t>(L.dim),      static_cast<int32_t>(L.hidden),
      static_cast<int32_t>(L.layers),   static_cast<int32_t>(L.heads),
      static_cast<int32_t>(L.kv_heads), static_cast<int32_t>(L.shared ? L.vocab : -L.vocab),
      static_cast<int32_t>(L.seq_len)};
  ok = ok && std::fwrite(h, sizeof h, 1, f) == 1;
  // kind: 0 = random N(0, 0.02), 1 = ones (norm weights), 2 = zeros (legacy RoPE tables)
  auto emit = [&](int64_t n, int kind) {
    while (ok && n > 0) {
      int64_t m = n < static_cast<int64_t>(buf.size()) ? n : static_cast<int64_t>(buf.size());
      for (int64_t i = 0; i < m; ++i)
        buf[i] = kind == 0 ? 0.02f * rng.normal() : kind == 1 ? 1.0f : 0.0f;
      ok = std::fwrite(buf.data(), sizeof(float), static_cast<size_t>(m), f) ==
           static_cast<size_t>(m);
      n -= m;
    }
  };
  emit(L.vocab * L.dim, 0);
  emit(L.layers * L.dim, 1);
  emit(L.layers * L.dim * L.dim, 0);
  emit(2 * L.layers * L.kv_dim * L.dim, 0);
  emit(L.layers * L.dim * L.dim, 0);
  emit(L.layers * L.dim, 1);
  emit(3 * L.layers * L.hidden * L.dim, 0);
  emit(L.dim, 1);
  emit(L.seq_len * L.head_dim, 2);
  if (!L.shared) emit(L.vocab * L.dim, 0);
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    fail(path, ": write failed (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail(path, ": cannot rename temporary file into place");
  }
}

}  // namespace lc
