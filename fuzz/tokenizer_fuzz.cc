// libFuzzer target for the tokenizer loaders: arbitrary bytes must give either a tokenizer or an
// lc::Error, never a crash or a leak. When a tokenizer loads, a short string (including invalid
// UTF-8, special-token strings) is encoded, with and without parse_special, and every id decoded,
// and every piece of a small vocabulary is decoded.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace {

void exercise(const lc::Tokenizer& tok) {
  static const std::string kTexts[] = {"", "Hello  world!\n", " \xE2\x96\x81\xFF\xC3(a\t<0x41>",
                                       "<s>a</s> <unk><|endoftext|>12"};
  for (const std::string& text : kTexts) {
    for (const bool add_bos : {false, true}) {
      lc::EncodeOptions options;
      options.add_bos = options.add_eos = add_bos;
      options.parse_special = add_bos;  // special tokens parsed in the second round
      const std::vector<int> ids = tok.encode(text, options);
      int prev = -1;
      for (const int id : ids) {
        if (id < 0 || id >= tok.vocab_size()) __builtin_trap();  // encode must give valid ids
        tok.decode(prev, id, add_bos);
        prev = id;
      }
    }
  }
  const int n = tok.vocab_size() < 64 ? tok.vocab_size() : 64;
  for (int id = -1; id <= n; ++id) tok.decode(tok.bos_id(), id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (const int hint : {0, 5}) {
    try {
      const auto tok = lc::load_tokenizer_from_memory(data, size, "fuzz.tok", hint);
      exercise(*tok);
    } catch (const lc::Error&) {
    }
  }
  return 0;
}
