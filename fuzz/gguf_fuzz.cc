// libFuzzer target for the GGUF reader: arbitrary bytes must give a model / tokenizer or an
// lc::Error, never a crash, a hang or an allocation the input's size does not justify. When a
// model loads, its first matrix is converted to a type picked by the input's last byte (every
// quantizer, fed whatever the file dequantizes to: weights a quantized type cannot hold end in
// an lc::Error), and one short forward pass runs as well. scripts/fuzz.sh seeds it with a small
// model in every tensor type.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/quant_recipe.h"
#include "model/llama.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Copy into 8-byte-aligned storage, as an mmap would be.
  std::vector<uint64_t> buf((size + 7) / 8);
  if (size) std::memcpy(buf.data(), data, size);
  const auto* p = reinterpret_cast<const uint8_t*>(buf.data());
  try {
    (void)lc::load_tokenizer_from_memory(p, size, "fuzz.gguf", 0);
  } catch (const lc::Error&) {
  }
  try {
    auto mf = lc::load_gguf_from_memory(p, size, "fuzz.gguf");
    for (const lc::TensorRef& t : mf->tensors) {
      if (t.shape.size() != 2 || t.numel() > (1 << 20)) continue;
      const auto want = static_cast<lc::DType>(data[size - 1] % lc::kDTypeCount);
      const lc::DType to = lc::fallback_dtype(want, t.shape[1]);
      std::vector<uint8_t> out(static_cast<size_t>(lc::dtype_bytes(to, t.numel())));
      try {
        lc::convert_tensor(t, to, out.data(), "fuzz.gguf");
      } catch (const lc::Error&) {
      }
      break;
    }
    if (mf->config.d_model * mf->config.n_layers > (1 << 16)) return 0;  // keep runs short
    lc::LlamaModel model(*mf);
    lc::SessionOptions so;
    so.n_threads = 1;
    so.ctx = 4;
    so.block_tokens = 2;
    lc::Session s(model, so);
    int toks[3] = {0, static_cast<int>(model.config().vocab_size - 1), 0};
    s.prefill(toks, 3);
  } catch (const lc::Error&) {
  }
  return 0;
}
