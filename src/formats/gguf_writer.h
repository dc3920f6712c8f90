// Writing GGUF v3 files (see gguf.h for the layout): metadata in the order given, tensor data
// aligned to 32 bytes. Written atomically: a temporary file beside the target is renamed into
// place only after every byte was written.
#pragma once
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

struct GgufOutTensor {
  std::string name;            // as stored (e.g. "blk.0.attn_q.weight")
  std::vector<int64_t> shape;  // outermost first (written reversed, innermost first)
  DType dtype = DType::F32;
  const void* data = nullptr;  // dtype_bytes(dtype, numel) bytes
};

// on_tensor (may be empty) is called after each tensor's data (formats/model_file.h).
void write_gguf(const std::string& path, const GgufKv& kv,
                const std::vector<GgufOutTensor>& tensors,
                const TensorWriteProgress& on_tensor = {});

// A llama-architecture model: llama.* metadata from the config (plus `extra`, e.g. the
// tokenizer), every tensor under its GGUF name ("<canonical>.weight") in its current dtype. The
// caller converts dtypes and RoPE row order beforehand (GGUF wants adjacent-pair q/k rows).
void write_model_gguf(const std::string& path, const ModelFile& model, const GgufKv& extra,
                      const TensorWriteProgress& on_tensor = {});

}  // namespace lc
