// Tokenizers: SentencePiece-BPE loaded from a llama2.c tokenizer.bin, a SentencePiece .model
// (protobuf) or explicit pieces (GGUF tokenizer.ggml.* arrays), and byte-level BPE
// (bpe_tokenizer.h) from GGUF, vocab.json + merges.txt or tokenizer.json.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lc {

// How text becomes ids. Special tokens are the vocabulary's control tokens (BOS, EOS, chat
// markers such as <|im_start|>) and unknown token; user-defined tokens are always matched whole.
struct EncodeOptions {
  bool add_bos = false;  // prepend bos_id() (when there is one)
  bool add_eos = false;  // append eos_id() (when there is one)
  // Special tokens written in the text become those tokens (chat templates, `--special`);
  // otherwise their text is tokenized like any other text.
  bool parse_special = false;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Token ids for text. Never throws on any byte string (invalid UTF-8 goes to byte tokens,
  // byte fallback or unk).
  virtual std::vector<int> encode(std::string_view text, const EncodeOptions& options) const = 0;
  // encode with only add_bos set.
  std::vector<int> encode(std::string_view text, bool add_bos) const {
    EncodeOptions o;
    o.add_bos = add_bos;
    return encode(text, o);
  }
  // The bytes that token `id` contributes when it follows token `prev_id` (-1 for none), llama2.c
  // semantics: after BOS a leading space is dropped; byte pieces <0xXX> give that raw byte;
  // SentencePiece's U+2581 becomes a space. Control and unknown tokens give "" unless `special`
  // (then their text, as llama.cpp's token_to_piece(special = true)); llama2.c .bin pieces always
  // give their text. Out-of-range id -> "".
  virtual std::string decode(int prev_id, int id, bool special) const = 0;
  std::string decode(int prev_id, int id) const { return decode(prev_id, id, false); }
  virtual int vocab_size() const = 0;
  virtual int bos_id() const = 0;
  // Whether a sequence starts with BOS (the file's own setting, e.g. GGUF
  // tokenizer.ggml.add_bos_token; true where a format does not say). Callers encoding a prompt
  // or document pass this as encode's add_bos.
  virtual bool adds_bos() const { return bos_id() >= 0; }
  virtual int eos_id() const = 0;
  // Whether a sequence ends with EOS (GGUF tokenizer.ggml.add_eos_token; false where a format
  // does not say).
  virtual bool adds_eos() const { return false; }
  // The options that encode text as the file asks: its BOS / EOS settings.
  EncodeOptions file_options(bool parse_special = false) const {
    EncodeOptions o;
    o.add_bos = adds_bos();
    o.add_eos = adds_eos();
    o.parse_special = parse_special;
    return o;
  }
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

// Token types as SentencePiece and GGUF's tokenizer.ggml.token_type number them.
enum PieceType : int {
  kPieceNormal = 1,
  kPieceUnknown = 2,
  kPieceControl = 3,
  kPieceUserDefined = 4,
  kPieceUnused = 5,
  kPieceByte = 6,
};

// One vocabulary entry; type a PieceType.
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
