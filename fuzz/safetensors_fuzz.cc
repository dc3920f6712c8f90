// libFuzzer target for the safetensors header parser (and with it the strict JSON parser):
// arbitrary bytes must give a tensor list or an lc::Error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "formats/json.h"
#include "formats/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    (void)lc::parse_safetensors(data, size, "fuzz.safetensors");
  } catch (const lc::Error&) {
  }
  try {
    (void)lc::parse_json(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
  } catch (const lc::Error&) {
  }
  return 0;
}
