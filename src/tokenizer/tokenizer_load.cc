// Loading tokenizers: llama2.c tokenizer.bin and SentencePiece .model (ModelProto), detected from
// content. Both become an SpmTokenizer (spm_tokenizer.h).
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/mmap.h"
#include "formats/gguf.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/proto_reader.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace lc {
namespace {

// A serialized ModelProto starts with field 1 (a SentencePiece, length-delimited): key byte 0x0A,
// a nonzero length, then the piece's first key, which is never 0. A llama2.c file starts with an
// int32 max_token_length whose third byte is 0 for any value below 65536, so the two never clash.
bool looks_like_model_proto(const uint8_t* data, size_t size) {
  return size >= 3 && data[0] == 0x0A && data[1] != 0 && data[2] != 0;
}

int32_t read_i32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return static_cast<int32_t>(v);
}

float read_f32(const uint8_t* p) {
  const uint32_t bits = static_cast<uint32_t>(read_i32(p));
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// llama2.c tokenizer.bin: int32 max_token_length, then per piece float32 score, int32 byte
// length, bytes. Pieces spell spaces as ' ' (not U+2581); "<0xXX>" pieces are byte fallbacks;
// BOS = 1, EOS = 2, <unk> = 0 by llama2.c convention.
std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const uint8_t* data, size_t size,
                                                  const std::string& name, int vocab_size_hint) {
  check(size >= 4, name, ": llama2.c tokenizer: expected a 4-byte max_token_length header, found ",
        size, " bytes");
  const int32_t max_len = read_i32(data);
  check(max_len >= 0 && static_cast<size_t>(max_len) <= size, name,
        ": llama2.c tokenizer: max_token_length ", max_len, ", expected 0..", size,
        " (the file size)");
  size_t pos = 4;
  std::vector<SpmPiece> pieces;
  const auto want = static_cast<size_t>(vocab_size_hint);
  while (vocab_size_hint > 0 ? pieces.size() < want : pos < size) {
    const size_t i = pieces.size();
    if (size - pos < 8) {
      if (vocab_size_hint > 0 && pos == size) {
        fail(name, ": llama2.c tokenizer has ", i, " pieces, expected vocab_size ", vocab_size_hint,
             " (the model's)");
      }
      fail(name, ": llama2.c tokenizer truncated: piece ", i, " at byte ", pos,
           " needs 8 bytes of score and length, found ", size - pos);
    }
    const float score = read_f32(data + pos);
    const int32_t len = read_i32(data + pos + 4);
    check(len >= 0 && len <= max_len, name, ": llama2.c tokenizer: piece ", i, " at byte ", pos,
          " has length ", len, ", expected 0..", max_len, " (max_token_length)");
    pos += 8;
    check(static_cast<size_t>(len) <= size - pos, name, ": llama2.c tokenizer: piece ", i, " of ",
          len, " bytes runs past the end of the file (", size - pos, " bytes left)");
    std::string text(reinterpret_cast<const char*>(data + pos), static_cast<size_t>(len));
    pos += static_cast<size_t>(len);
    const int type = parse_byte_piece(text) >= 0 ? kPieceByte : kPieceNormal;
    pieces.push_back({std::move(text), score, type});
  }
  check(pos == size, name, ": llama2.c tokenizer: ", size - pos, " bytes left after ",
        pieces.size(), " pieces, expected the file to end (vocab_size ", vocab_size_hint,
        " is the model's)");
  check(pieces.size() >= 3, name, ": llama2.c tokenizer has ", pieces.size(),
        " pieces, expected at least 3 (<unk>, BOS, EOS)");
  SpmConfig config;
  config.unk_id = 0;
  config.bos_id = 1;
  config.eos_id = 2;
  config.escape_whitespaces = false;
  config.remove_extra_whitespaces = false;
  config.control_decodes_empty = false;  // llama2.c prints every piece's text
  return std::make_unique<SpmTokenizer>(std::move(pieces), config, name);
}

// Subsets of sentencepiece_model.proto (field numbers from that file).
struct TrainerSpecFields {
  int model_type = 1;  // 1 UNIGRAM (the proto default), 2 BPE, 3 WORD, 4 CHAR
  bool treat_whitespace_as_suffix = false;
  bool byte_fallback = false;
  int unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
};
struct NormalizerSpecFields {
  std::string name;
  size_t charsmap_bytes = 0;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

// proto int32 fields are varints of the sign-extended 64-bit value.
int as_int32(uint64_t v) {
  return static_cast<int>(static_cast<int32_t>(static_cast<uint32_t>(v)));
}

SpmPiece parse_piece(ProtoReader r) {
  SpmPiece piece{"", 0.0f, kPieceNormal};
  while (!r.done()) {
    uint32_t field;
    int wire;
    r.next_field(&field, &wire);
    if (field == 1) {  // piece
      r.expect_wire(field, wire, kWireLengthDelimited);
      piece.text = std::string(r.read_bytes());
    } else if (field == 2) {  // score
      r.expect_wire(field, wire, kWireFixed32);
      const uint32_t bits = r.read_fixed32();
      std::memcpy(&piece.score, &bits, sizeof piece.score);
    } else if (field == 3) {  // type
      r.expect_wire(field, wire, kWireVarint);
      const uint64_t type = r.read_varint();
      piece.type = type > 100 ? 0 : static_cast<int>(type);  // out of range: rejected later
    } else {
      r.skip(wire);
    }
  }
  return piece;
}

TrainerSpecFields parse_trainer_spec(ProtoReader r) {
  TrainerSpecFields t;
  while (!r.done()) {
    uint32_t field;
    int wire;
    r.next_field(&field, &wire);
    int* int_target = field == 3    ? &t.model_type
                      : field == 40 ? &t.unk_id
                      : field == 41 ? &t.bos_id
                      : field == 42 ? &t.eos_id
                      : field == 43 ? &t.pad_id
                                    : nullptr;
    bool* bool_target = field == 24   ? &t.treat_whitespace_as_suffix
                        : field == 35 ? &t.byte_fallback
                                      : nullptr;
    if (int_target != nullptr) {
      r.expect_wire(field, wire, kWireVarint);
      *int_target = as_int32(r.read_varint());
    } else if (bool_target != nullptr) {
      r.expect_wire(field, wire, kWireVarint);
      *bool_target = r.read_varint() != 0;
    } else {
      r.skip(wire);
    }
  }
  return t;
}

NormalizerSpecFields parse_normalizer_spec(ProtoReader r) {
  NormalizerSpecFields n;
  while (!r.done()) {
    uint32_t field;
    int wire;
    r.next_field(&field, &wire);
    bool* bool_target = field == 3   ? &n.add_dummy_prefix
                        : field == 4 ? &n.remove_extra_whitespaces
                        : field == 5 ? &n.escape_whitespaces
                                     : nullptr;
    if (field == 1) {
      r.expect_wire(field, wire, kWireLengthDelimited);
      n.name = std::string(r.read_bytes());
    } else if (field == 2) {
      r.expect_wire(field, wire, kWireLengthDelimited);
      n.charsmap_bytes = r.read_bytes().size();
    } else if (bool_target != nullptr) {
      r.expect_wire(field, wire, kWireVarint);
      *bool_target = r.read_varint() != 0;
    } else {
      r.skip(wire);
    }
  }
  return n;
}

// SentencePiece ModelProto: 1 = repeated SentencePiece, 2 = TrainerSpec, 3 = NormalizerSpec.
std::unique_ptr<Tokenizer> load_sentencepiece_model(const uint8_t* data, size_t size,
                                                    const std::string& name, int vocab_size_hint) {
  ProtoReader r(data, size, 0, name, "ModelProto");
  std::vector<SpmPiece> pieces;
  TrainerSpecFields trainer;
  NormalizerSpecFields normalizer;
  bool has_trainer = false;
  while (!r.done()) {
    uint32_t field;
    int wire;
    r.next_field(&field, &wire);
    if (field == 1) {
      r.expect_wire(field, wire, kWireLengthDelimited);
      pieces.push_back(parse_piece(r.read_message("SentencePiece")));
    } else if (field == 2) {
      r.expect_wire(field, wire, kWireLengthDelimited);
      trainer = parse_trainer_spec(r.read_message("TrainerSpec"));
      has_trainer = true;
    } else if (field == 3) {
      r.expect_wire(field, wire, kWireLengthDelimited);
      normalizer = parse_normalizer_spec(r.read_message("NormalizerSpec"));
    } else {
      r.skip(wire);
    }
  }
  check(has_trainer, name,
        ": SentencePiece model has no trainer_spec, expected one with "
        "model_type BPE");
  if (trainer.model_type != 2) {
    const char* kind = trainer.model_type == 1   ? "UNIGRAM"
                       : trainer.model_type == 3 ? "WORD"
                       : trainer.model_type == 4 ? "CHAR"
                                                 : "unknown";
    fail(name, ": SentencePiece model_type ", trainer.model_type, " (", kind,
         ") is not supported, expected 2 (BPE)");
  }
  check(!trainer.treat_whitespace_as_suffix, name,
        ": SentencePiece treat_whitespace_as_suffix is not supported, expected false");
  check(normalizer.charsmap_bytes == 0, name, ": SentencePiece normalizer '", normalizer.name,
        "' has a ", normalizer.charsmap_bytes,
        "-byte precompiled_charsmap; only identity normalization is supported");
  check(!pieces.empty(), name, ": SentencePiece model has no pieces");
  check(vocab_size_hint == 0 || pieces.size() == static_cast<size_t>(vocab_size_hint), name,
        ": SentencePiece model has ", pieces.size(), " pieces, expected vocab_size ",
        vocab_size_hint, " (the model's)");
  check(trainer.unk_id >= 0, name, ": SentencePiece unk_id ", trainer.unk_id,
        ", expected a piece id");
  SpmConfig config;
  config.unk_id = trainer.unk_id;
  config.bos_id = trainer.bos_id < 0 ? -1 : trainer.bos_id;
  config.eos_id = trainer.eos_id < 0 ? -1 : trainer.eos_id;
  config.byte_fallback = trainer.byte_fallback;
  config.add_dummy_prefix = normalizer.add_dummy_prefix;
  config.remove_extra_whitespaces = normalizer.remove_extra_whitespaces;
  config.escape_whitespaces = normalizer.escape_whitespaces;
  config.control_decodes_empty = true;
  return std::make_unique<SpmTokenizer>(std::move(pieces), config, name);
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer_from_memory(const uint8_t* data, size_t size,
                                                      const std::string& name,
                                                      int vocab_size_hint) {
  check(vocab_size_hint >= 0, name, ": vocab_size_hint ", vocab_size_hint,
        ", expected >= 0 (0 = unknown)");
  check(size > 0, name,
        ": empty tokenizer file, expected a llama2.c tokenizer.bin or a "
        "SentencePiece .model");
  if (is_gguf(data, size)) {
    return tokenizer_from_gguf(parse_gguf(data, size, name), vocab_size_hint);
  }
  if (looks_like_model_proto(data, size)) {
    return load_sentencepiece_model(data, size, name, vocab_size_hint);
  }
  return load_llama2c_tokenizer(data, size, name, vocab_size_hint);
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path, int vocab_size_hint) {
  const MappedFile file(path);
  return load_tokenizer_from_memory(file.data(), file.size(), path, vocab_size_hint);
}

}  // namespace lc
