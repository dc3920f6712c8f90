// Tokenizers for Llama-family models: SentencePiece-BPE loaded from a llama2.c tokenizer.bin, a
// SentencePiece .model (protobuf), or explicit pieces (GGUF tokenizer.ggml.* arrays).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lc {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Token ids for text. add_bos prepends bos_id(). Never throws on any byte string (invalid
  // UTF-8 goes to byte fallback or unk).
  virtual std::vector<int> encode(std::string_view text, bool add_bos) const = 0;
  // The bytes that token `id` contributes when it follows token `prev_id` (-1 for none), llama2.c
  // semantics: after BOS a leading space is dropped; byte pieces <0xXX> give that raw byte;
  // SentencePiece's U+2581 becomes a space; control tokens (BOS/EOS/unk for .model) give "".
  // Out-of-range id -> "".
  virtual std::string decode(int prev_id, int id) const = 0;
  virtual int vocab_size() const = 0;
  virtual int bos_id() const = 0;
  // Whether a sequence starts with BOS (the file's own setting, e.g. GGUF
  // tokenizer.ggml.add_bos_token; true where a format does not say). Callers encoding a prompt
  // or document pass this as encode's add_bos.
  virtual bool adds_bos() const { return bos_id() >= 0; }
  virtual int eos_id() const = 0;
};

// Detects the format from content (not the extension): llama2.c tokenizer.bin or SentencePiece
// .model (protobuf). vocab_size_hint: for llama2.c .bin the vocab size is not stored, so the
// caller passes the model's vocab size (the file must then be exactly consumed; 0 = read pieces
// until EOF); for a .model a nonzero hint must equal the number of pieces. Throws lc::Error naming
// the path on any malformed input.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path, int vocab_size_hint);
// Same from memory (used by the fuzz target and by GGUF later). `name` appears in error messages.
std::unique_ptr<Tokenizer> load_tokenizer_from_memory(const uint8_t* data, size_t size,
                                                      const std::string& name, int vocab_size_hint);

// One vocabulary entry. type as SentencePiece: 1 normal, 2 unknown, 3 control, 4 user-defined,
// 5 unused, 6 byte.
struct SpmPiece {
  std::string text;
  float score;
  int type;
};
// A SentencePiece-BPE tokenizer from explicit pieces (text uses U+2581 for spaces). Byte fallback
// is used when the vocabulary has <0xXX> byte pieces. bos/eos/unk may be -1 (absent).
std::unique_ptr<Tokenizer> make_spm_tokenizer(std::vector<SpmPiece> pieces, int bos_id, int eos_id,
                                              int unk_id, bool add_dummy_prefix);

}  // namespace lc
