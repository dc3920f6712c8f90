// Writing GGUF v3 files (see gguf.h for the layout): metadata in the order given, tensor data
// aligned to 32 bytes. Written atomically: a temporary file beside the target is renamed into
// place only after every byte was written.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "formats/gguf.h"
#include "formats/model_file.h"

namespace lc {

using GgufKv = std::vector<std::pair<std::string, GgufValue>>;

GgufValue gguf_u32(uint32_t v);
GgufValue gguf_i32(int32_t v);
GgufValue gguf_f32(float v);
GgufValue gguf_bool(bool v);
GgufValue gguf_string(std::string v);
GgufValue gguf_string_array(std::vector<std::string> v);
GgufValue gguf_f32_array(std::vector<double> v);
GgufValue gguf_i32_array(std::vector<int64_t> v);
GgufValue gguf_bool_array(std::vector<bool> v);

struct GgufOutTensor {
  std::string name;            // as stored (e.g. "blk.0.attn_q.weight")
  std::vector<int64_t> shape;  // outermost first (written reversed, innermost first)
  DType dtype = DType::F32;
  const void* data = nullptr;  // dtype_bytes(dtype, numel) bytes
  // Instead of data: writes the dtype_bytes(dtype, numel) bytes into the buffer it is given,
  // just before the tensor is written (a converter fills one tensor at a time this way).
  std::function<void(uint8_t*)> fill;
};

// on_tensor (may be empty) is called after each tensor's data (formats/model_file.h).
void write_gguf(const std::string& path, const GgufKv& kv,
                const std::vector<GgufOutTensor>& tensors,
                const TensorWriteProgress& on_tensor = {});

// The q/k row order (RoPE style) llama.cpp expects for an architecture: adjacent pairs for llama
// (its NORM rope type), rotate-half for gemma3 (NEOX).
ops::RopeStyle gguf_rope_style(Arch arch);

// A llama- or gemma3-architecture model: llama.* / gemma3.* metadata from the config, then
// `extra` (e.g. the tokenizer, metadata carried over from an input file; an extra key replaces
// the config's key of the same name in place), every tensor under its GGUF name
// ("<canonical>.weight"), in dtypes[i] (empty: each tensor's current dtype; others are converted
// one tensor at a time with convert_tensor, formats/model_file.h, as they are written). The
// caller puts the q/k rows in gguf_rope_style order beforehand (permute_rope_rows). Gemma 3 has
// no GGUF key for its query scale (llama.cpp derives it, see gguf_model.cc): a
// query_pre_attn_scalar other than the derived one is folded into attn_q_norm, so that the file
// gives the same logits in llama.cpp and here.
void write_model_gguf(const std::string& path, const ModelFile& model, const GgufKv& extra,
                      const TensorWriteProgress& on_tensor = {},
                      const std::vector<DType>& dtypes = {});

// The metadata of a GGUF file that a converted copy of it keeps: every key in file order except
// those the writer derives itself (general.architecture, general.alignment, general.file_type,
// general.quantization_version) and split.* (the copy is one file); tokenizer.* too unless
// keep_tokenizer (a tokenizer given with -z replaces the file's).
GgufKv gguf_carried_metadata(const GgufFile& in, bool keep_tokenizer);

}  // namespace lc
