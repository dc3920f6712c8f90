// Which type each tensor is stored in when `longctx convert --dtype X` writes a GGUF file.
//
// A plain type (f32 .. iq4_xs) stores every matrix in that type ("pure", like llama-quantize
// --pure); the mixes q4_k_m / q5_k_m follow llama.cpp's per-tensor recipe for
// LLAMA_FTYPE_MOSTLY_Q4_K_M / Q5_K_M (llama-quant.cpp, llama_tensor_get_type_impl). Either way:
//   - 1-D tensors (norms) stay F32;
//   - a matrix whose rows are not a whole number of its type's blocks falls back as llama.cpp's
//     tensor_type_fallback does: Q2_K, Q3_K -> Q4_0; Q4_K -> Q5_0; Q5_K -> Q5_1; Q6_K -> Q8_0;
//     IQ4_XS -> IQ4_NL; and when the fallback (or a 32-element type asked for directly) still
//     does not fit, F16 (llama.cpp's last resort; it refuses a 32-element type outright).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "formats/model_file.h"

namespace lc {

// llama.cpp's per-tensor mixes (none: every matrix in the base type).
enum class QuantMix : uint8_t { None, Q4_K_M, Q5_K_M };

struct ConvertTarget {
  const char* name = "f32";  // the --dtype spelling
  DType base = DType::F32;   // the type of the matrices no rule moves
  QuantMix mix = QuantMix::None;
  uint32_t file_type = 0;  // llama_ftype, written as general.file_type
};

// "f32", ..., "iq4_xs", "q4_k_m", "q5_k_m"; throws lc::Error listing the names otherwise.
ConvertTarget parse_convert_target(const std::string& s);
// The accepted --dtype names, comma-separated.
std::string convert_target_names();

// The type `want` falls back to for rows of `cols` elements (itself when they fit; see above).
DType fallback_dtype(DType want, int64_t cols);

// The storage type of tensor t of m under target (m gives the layer count and whether the
// embeddings are tied, i.e. there is no "output" tensor).
DType tensor_target_dtype(const ConvertTarget& target, const ModelFile& m, const TensorRef& t);
// tensor_target_dtype of every tensor of m, in order.
std::vector<DType> plan_tensor_dtypes(const ConvertTarget& target, const ModelFile& m);

}  // namespace lc
