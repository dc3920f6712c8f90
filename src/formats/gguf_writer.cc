#include "formats/gguf_writer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/aligned.h"
#include "core/error.h"

namespace lc {

namespace {

GgufValue scalar(uint32_t type) {
  GgufValue v;
  v.type = type;
  return v;
}

class Out {
 public:
  explicit Out(const std::string& path) : path_(path), tmp_(path + ".tmp") {
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (!f_) fail(path, ": cannot open '", tmp_, "' for writing");
  }
  ~Out() {
    if (f_) {
      std::fclose(f_);
      std::remove(tmp_.c_str());
    }
  }
  void bytes(const void* p, size_t n) {
    if (n && std::fwrite(p, 1, n, f_) != n) ok_ = false;
    pos_ += n;
  }
  template <typename T>
  void put(T v) {
    bytes(&v, sizeof v);
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void pad_to(uint64_t alignment) {
    static const char zeros[64] = {};
    while (pos_ % alignment) bytes(zeros, static_cast<size_t>(alignment - pos_ % alignment) % 64);
  }
  uint64_t pos() const { return pos_; }
  void commit() {
    const bool closed = std::fclose(f_) == 0;
    f_ = nullptr;
    if (!ok_ || !closed) {
      std::remove(tmp_.c_str());
      fail(path_, ": write failed (disk full?)");
    }
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      std::remove(tmp_.c_str());
      fail(path_, ": cannot rename the temporary file into place");
    }
  }

 private:
  std::string path_, tmp_;
  FILE* f_ = nullptr;
  bool ok_ = true;
  uint64_t pos_ = 0;
};

void put_scalar(Out& o, uint32_t type, int64_t i, double f) {
  switch (type) {
    case kGgufU8:
      o.put<uint8_t>(static_cast<uint8_t>(i));
      break;
    case kGgufI8:
      o.put<int8_t>(static_cast<int8_t>(i));
      break;
    case kGgufU16:
      o.put<uint16_t>(static_cast<uint16_t>(i));
      break;
    case kGgufI16:
      o.put<int16_t>(static_cast<int16_t>(i));
      break;
    case kGgufU32:
      o.put<uint32_t>(static_cast<uint32_t>(i));
      break;
    case kGgufI32:
      o.put<int32_t>(static_cast<int32_t>(i));
      break;
    case kGgufBool:
      o.put<uint8_t>(i != 0);
      break;
    case kGgufU64:
      o.put<uint64_t>(static_cast<uint64_t>(i));
      break;
    case kGgufI64:
      o.put<int64_t>(i);
      break;
    case kGgufF32:
      o.put<float>(static_cast<float>(f));
      break;
    case kGgufF64:
      o.put<double>(f);
      break;
    default:
      fail("write_gguf: unknown value type ", type);
  }
}

}  // namespace

GgufValue gguf_u32(uint32_t v) {
  GgufValue g = scalar(kGgufU32);
  g.i = v;
  return g;
}
GgufValue gguf_i32(int32_t v) {
  GgufValue g = scalar(kGgufI32);
  g.i = v;
  return g;
}
GgufValue gguf_f32(float v) {
  GgufValue g = scalar(kGgufF32);
  g.f = v;
  return g;
}
GgufValue gguf_bool(bool v) {
  GgufValue g = scalar(kGgufBool);
  g.i = v;
  return g;
}
GgufValue gguf_string(std::string v) {
  GgufValue g = scalar(kGgufString);
  g.str = std::move(v);
  return g;
}
GgufValue gguf_string_array(std::vector<std::string> v) {
  GgufValue g = scalar(kGgufArray);
  g.elem_type = kGgufString;
  g.strs = std::move(v);
  return g;
}
GgufValue gguf_f32_array(std::vector<double> v) {
  GgufValue g = scalar(kGgufArray);
  g.elem_type = kGgufF32;
  g.floats = std::move(v);
  return g;
}
GgufValue gguf_i32_array(std::vector<int64_t> v) {
  GgufValue g = scalar(kGgufArray);
  g.elem_type = kGgufI32;
  g.ints = std::move(v);
  return g;
}

GgufValue gguf_bool_array(std::vector<bool> v) {
  GgufValue g = scalar(kGgufArray);
  g.elem_type = kGgufBool;
  g.ints.assign(v.begin(), v.end());
  return g;
}

ops::RopeStyle gguf_rope_style(Arch arch) {
  return arch == Arch::Gemma3 ? ops::RopeStyle::RotateHalf : ops::RopeStyle::AdjacentPairs;
}

void write_gguf(const std::string& path, const GgufKv& kv,
                const std::vector<GgufOutTensor>& tensors, const TensorWriteProgress& on_tensor) {
  constexpr uint64_t kAlign = 32;
  Out o(path);
  o.bytes("GGUF", 4);
  o.put<uint32_t>(3);
  o.put<uint64_t>(tensors.size());
  o.put<uint64_t>(kv.size());
  for (const auto& [key, v] : kv) {
    o.str(key);
    o.put<uint32_t>(v.type);
    if (v.type == kGgufString) {
      o.str(v.str);
    } else if (v.type == kGgufArray) {
      o.put<uint32_t>(v.elem_type);
      o.put<uint64_t>(v.array_size());
      for (const auto& s : v.strs) o.str(s);
      for (int64_t i : v.ints) put_scalar(o, v.elem_type, i, 0);
      for (double f : v.floats) put_scalar(o, v.elem_type, 0, f);
    } else {
      put_scalar(o, v.type, v.i, v.f);
    }
  }
  std::vector<uint64_t> offsets;
  uint64_t off = 0;
  for (const auto& t : tensors) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    o.str(t.name);
    o.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) o.put<uint64_t>(*it);
    o.put<uint32_t>(ggml_type_of(t.dtype));
    o.put<uint64_t>(off);
    offsets.push_back(off);
    off = (off + dtype_bytes(t.dtype, n) + kAlign - 1) / kAlign * kAlign;
  }
  o.pad_to(kAlign);
  const uint64_t data_start = o.pos();
  AlignedBuffer<uint8_t> fill_buf;  // the largest filled tensor so far
  for (size_t j = 0; j < tensors.size(); ++j) {
    const auto& t = tensors[j];
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    o.pad_to(kAlign);
    if (o.pos() - data_start != offsets[j]) fail(path, ": internal error: tensor offset mismatch");
    const auto bytes = static_cast<size_t>(dtype_bytes(t.dtype, n));
    if (t.fill) {
      if (fill_buf.size() < bytes) fill_buf.resize(bytes);
      t.fill(fill_buf.data());
      o.bytes(fill_buf.data(), bytes);
    } else {
      o.bytes(t.data, bytes);
    }
    if (on_tensor) on_tensor(static_cast<int64_t>(j + 1), static_cast<int64_t>(tensors.size()));
  }
  o.commit();
}

void write_model_gguf(const std::string& path, const ModelFile& m, const GgufKv& extra,
                      const TensorWriteProgress& on_tensor, const std::vector<DType>& dtypes) {
  const ModelConfig& c = m.config;
  if (c.arch != Arch::Llama && c.arch != Arch::Gemma3)
    fail(path, ": writing the '", arch_name(c.arch),
         "' architecture to GGUF is not supported (use --to hf)");
  if (c.rope_style != gguf_rope_style(c.arch))
    fail(path, ": internal error: GGUF ", arch_name(c.arch), " needs ",
         c.arch == Arch::Gemma3 ? "rotate-half" : "adjacent-pair", " q/k rows (permute first)");
  if (c.qkv_bias || m.find("blk.0.attn_q.bias"))
    fail(path, ": writing q/k/v biases (Qwen2) to GGUF is not supported (use --to hf)");
  const bool gemma = c.arch == Arch::Gemma3;
  const std::string arch = arch_name(c.arch), p = arch + ".";
  GgufKv kv = {
      {"general.architecture", gguf_string(arch)},
      {"general.name", gguf_string("longctx conversion")},
      {"general.alignment", gguf_u32(32)},
      {p + "context_length", gguf_u32(static_cast<uint32_t>(c.ctx_len))},
      {p + "embedding_length", gguf_u32(static_cast<uint32_t>(c.d_model))},
      {p + "block_count", gguf_u32(static_cast<uint32_t>(c.n_layers))},
      {p + "feed_forward_length", gguf_u32(static_cast<uint32_t>(c.hidden))},
      {p + "attention.head_count", gguf_u32(static_cast<uint32_t>(c.n_heads))},
      {p + "attention.head_count_kv", gguf_u32(static_cast<uint32_t>(c.n_kv_heads))},
      {p + "attention.key_length", gguf_u32(static_cast<uint32_t>(c.head_dim))},
      {p + "attention.value_length", gguf_u32(static_cast<uint32_t>(c.head_dim))},
      {p + "rope.dimension_count", gguf_u32(static_cast<uint32_t>(c.head_dim))},
      {p + "attention.layer_norm_rms_epsilon", gguf_f32(c.norm_eps)},
      {p + "rope.freq_base", gguf_f32(static_cast<float>(c.rope_theta))},
      {p + "vocab_size", gguf_u32(static_cast<uint32_t>(c.vocab_size))},
  };
  // Position scaling as llama.cpp reads it: rope.scaling.* keys (linear, YaRN), or for Llama 3
  // a rope_freqs tensor of per-pair divisors (added below with the tensors).
  using T = ops::RopeScaling::Type;
  const ops::RopeScaling& rs = c.rope_scaling;
  if (rs.type == T::Linear || rs.type == T::Yarn) {
    kv.push_back({p + "rope.scaling.type", gguf_string(ops::rope_scaling_name(rs.type))});
    kv.push_back({p + "rope.scaling.factor", gguf_f32(static_cast<float>(rs.factor))});
  }
  if (rs.type == T::Yarn) {
    if (rs.mscale > 0 || rs.mscale_all_dim > 0)
      fail(path,
           ": YaRN mscale / mscale_all_dim have no GGUF key (llama.cpp's attn_factor is "
           "a different quantity); keep the model in HF form");
    kv.push_back({p + "rope.scaling.original_context_length",
                  gguf_u32(static_cast<uint32_t>(rs.original_ctx))});
    kv.push_back({p + "rope.scaling.yarn_beta_fast", gguf_f32(static_cast<float>(rs.beta_fast))});
    kv.push_back({p + "rope.scaling.yarn_beta_slow", gguf_f32(static_cast<float>(rs.beta_slow))});
    if (rs.attention_factor > 0)  // llama.cpp multiplies its attn_factor by the default one
      kv.push_back({p + "rope.scaling.attn_factor",
                    gguf_f32(static_cast<float>(rs.attention_factor /
                                                ops::yarn_default_attention_factor(rs.factor)))});
  }
  // Gemma 3 (gguf_model.cc reads these as llama.cpp does).
  std::vector<TensorRef> src = m.tensors;  // what is written; q norms may be rescaled
  std::vector<std::vector<float>> rescaled;
  if (gemma) {
    // llama.cpp's gemma3 graph passes linear scaling (freq_scale) to global layers only, and
    // ignores rope_freqs; YaRN's parameters would reach the local layers too.
    if (rs.type != T::None && rs.type != T::Linear)
      fail(path, ": writing Gemma 3 with '", ops::rope_scaling_name(rs.type),
           "' rope scaling to GGUF is not supported (llama.cpp's gemma3 takes linear only; use "
           "--to hf)");
    if (c.sliding_window > 0 && !c.local_layers.empty()) {
      kv.push_back(
          {p + "attention.sliding_window", gguf_u32(static_cast<uint32_t>(c.sliding_window))});
      if (const int64_t period = c.local_pattern(); period > 0)
        kv.push_back({p + "attention.sliding_window_pattern",
                      gguf_u32(static_cast<uint32_t>(period == c.n_layers + 1 ? 0 : period))});
      else
        kv.push_back({p + "attention.sliding_window_pattern", gguf_bool_array(c.local_layers)});
      kv.push_back({p + "rope.freq_base_swa", gguf_f32(static_cast<float>(c.rope_local_theta))});
    }
    if (c.final_logit_softcap > 0)
      kv.push_back(
          {p + "final_logit_softcapping", gguf_f32(static_cast<float>(c.final_logit_softcap))});
    // llama.cpp's query scale for this shape, and the factor that turns it into the model's.
    const double derived = gemma3_gguf_query_scalar(c);
    const double wanted = c.query_pre_attn_scalar > 0 ? c.query_pre_attn_scalar : c.head_dim;
    const float fold = static_cast<float>(std::sqrt(derived / wanted));
    if (fold != 1.0f) {
      rescaled.reserve(src.size());
      for (TensorRef& t : src) {
        if (!t.name.ends_with(".attn_q_norm")) continue;
        if (t.dtype != DType::F32) fail(path, ": internal error: tensor '", t.name, "' is not f32");
        const auto* w = static_cast<const float*>(t.data);
        rescaled.emplace_back(w, w + t.numel());
        for (float& x : rescaled.back()) x *= fold;
        t.data = rescaled.back().data();
      }
    }
  }
  for (const auto& e : extra) {
    auto same =
        std::find_if(kv.begin(), kv.end(), [&](const auto& k) { return k.first == e.first; });
    if (same != kv.end())
      same->second = e.second;
    else
      kv.push_back(e);
  }
  if (!dtypes.empty() && dtypes.size() != src.size())
    fail(path, ": internal error: ", dtypes.size(), " dtypes for ", src.size(), " tensors");
  std::vector<GgufOutTensor> ts;
  for (size_t i = 0; i < src.size(); ++i) {
    const TensorRef& t = src[i];
    GgufOutTensor o{t.name + ".weight", t.shape, dtypes.empty() ? t.dtype : dtypes[i], t.data, {}};
    if (o.dtype != t.dtype) {
      o.data = nullptr;
      o.fill = [&m, &t, to = o.dtype](uint8_t* out) {
        convert_tensor(t, to, out, m.path);
        // The source pages are read once: drop them so the resident set stays small.
        for (const auto& f : m.mappings)
          f.drop_pages(t.data, static_cast<size_t>(dtype_bytes(t.dtype, t.numel())));
      };
    }
    ts.push_back(std::move(o));
  }
  std::vector<float> freq_factors;  // Llama 3: plain inv_freq / scaled inv_freq, per pair
  if (rs.type == T::Llama3) {
    if (m.find("rope_freqs")) fail(path, ": both llama3 rope scaling and a rope_freqs tensor");
    const ops::RopeFreqs plain(c.head_dim, c.rope_theta), scaled(c.head_dim, c.rope_theta, rs);
    for (size_t i = 0; i < plain.inv_freq().size(); ++i)
      freq_factors.push_back(static_cast<float>(plain.inv_freq()[i] / scaled.inv_freq()[i]));
    ts.push_back(GgufOutTensor{"rope_freqs.weight",
                               {static_cast<int64_t>(freq_factors.size())},
                               DType::F32,
                               freq_factors.data(),
                               {}});
  }
  write_gguf(path, kv, ts, on_tensor);
}

GgufKv gguf_carried_metadata(const GgufFile& in, bool keep_tokenizer) {
  auto starts = [](const std::string& k, const char* p) { return k.rfind(p, 0) == 0; };
  GgufKv out;
  for (const std::string& k : in.keys) {
    if (k == "general.architecture" || k == "general.alignment" || k == "general.file_type" ||
        k == "general.quantization_version" || starts(k, "split."))
      continue;
    if (!keep_tokenizer && starts(k, "tokenizer.")) continue;
    out.emplace_back(k, in.kv.at(k));
  }
  return out;
}

}  // namespace lc
