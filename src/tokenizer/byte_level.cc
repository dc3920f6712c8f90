#include "tokenizer/byte_level.h"

#include "tokenizer/bpe_tokenizer.h"

namespace lc {

std::string byte_level_tokenizer_json() {
  std::string vocab;
  for (int b = 0; b < 256; ++b) {
    std::string text = bpe_byte_text(static_cast<unsigned char>(b));
    // Mapped code points are >= U+0021, so only '"' and '\\' need escaping.
    if (text == "\"" || text == "\\") text.insert(text.begin(), '\\');
    vocab += (b == 0 ? "" : ",") + std::string("\"") + text + "\":" + std::to_string(b);
  }
  const std::string special = "\"<|endoftext|>\"";
  const std::string byte_level =
      "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,"
      "\"use_regex\":true}";
  return "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[{\"id\":" +
         std::to_string(kByteLevelSpecialId) + ",\"content\":" + special +
         ",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,"
         "\"special\":true}],\"normalizer\":null,\"pre_tokenizer\":" +
         byte_level + ",\"post_processor\":null,\"decoder\":" + byte_level +
         ",\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,"
         "\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":false,"
         "\"byte_fallback\":false,\"vocab\":{" +
         vocab + "},\"merges\":[]}}\n";
}

}  // namespace lc
