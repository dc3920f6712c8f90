// libFuzzer target for the GGUF reader: arbitrary bytes must give a model / tokenizer or an
// lc::Error, never a crash, a hang or an allocation the input's size does not justify. When a
// model loads, one short forward pass runs as well.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "formats/gguf.h"
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
