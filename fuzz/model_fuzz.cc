// libFuzzer target for the llama2.c model loader: arbitrary bytes must give either a model or
// an lc::Error, never a crash. When a model loads, one short forward pass runs as well.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "formats/llama2c.h"
#include "model/llama.h"
#include "runtime/session.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Copy into 4-byte-aligned storage, as an mmap would be.
  std::vector<float> buf((size + 3) / 4);
  if (size) std::memcpy(buf.data(), data, size);
  try {
    auto mf = lc::load_llama2c_from_memory(reinterpret_cast<const uint8_t*>(buf.data()), size,
                                           "fuzz.bin");
    lc::LlamaModel model(*mf);
    lc::SessionOptions so;
    so.n_threads = 1;
    so.ctx = 4;
    so.block_tokens = 2;
    lc::Session s(model, so);
    int toks[3] = {0, static_cast<int>(model.config().vocab_size - 1), 0};
    s.prefill(toks, 3);
    s.decode(0);
  } catch (const lc::Error&) {
  }
  return 0;
}
