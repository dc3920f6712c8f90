// SentencePiece-BPE encoder/decoder shared by every Llama tokenizer format (internal header; the
// public interface is tokenizer.h). The loaders translate their format into pieces + SpmConfig.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tokenizer/special_tokens.h"
#include "tokenizer/tokenizer.h"

namespace lc {

struct SpmConfig {
  int bos_id = -1;  // -1: absent
  int eos_id = -1;
  int unk_id = -1;
  bool add_dummy_prefix = true;           // prepend one space to non-empty text
  bool escape_whitespaces = true;         // ' ' <-> U+2581 (false for llama2.c .bin pieces)
  bool remove_extra_whitespaces = false;  // strip leading/trailing spaces, collapse runs
  bool byte_fallback = true;              // characters without a piece -> <0xXX> pieces
  bool control_decodes_empty = true;      // control/unknown pieces decode to "" (else raw text)
  bool add_bos = true;                    // sequences start with BOS (Tokenizer::adds_bos)
  bool add_eos = false;                   // sequences end with EOS (Tokenizer::adds_eos)
  // true (GGUF, as llama.cpp): user-defined pieces cut the text before normalization like
  // special tokens, and the text after one gets the dummy prefix again; false (SentencePiece):
  // they are matched whole inside the normalized text. With parse_special the text is always cut
  // at control, unknown and user-defined pieces the llama.cpp way.
  bool split_user_defined = false;
  // Special pieces that swallow the ASCII white space after them when the text is cut at special
  // tokens (llama.cpp's RSTRIP attribute, set for Phi-3's vocabulary).
  std::vector<int> rstrip_ids;
};

// The byte value of a "<0xXX>" piece (hex digits in either case), or -1 if the text is not one.
int parse_byte_piece(std::string_view text);

// Heterogeneous lookup so a std::string_view into the text finds a std::string key without
// allocating.
struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct BpeSymbol;  // defined in spm_tokenizer.cc
struct BpeCandidate;

class SpmTokenizer final : public Tokenizer {
 public:
  // Validates pieces and ids; errors name `name` (the file or the caller).
  SpmTokenizer(std::vector<SpmPiece> pieces, const SpmConfig& config, const std::string& name);

  using Tokenizer::decode;
  using Tokenizer::encode;
  std::vector<int> encode(std::string_view text, const EncodeOptions& options) const override;
  std::string decode(int prev_id, int id, bool special) const override;
  int vocab_size() const override { return static_cast<int>(pieces_.size()); }
  int bos_id() const override { return config_.bos_id; }
  bool adds_bos() const override { return config_.add_bos && config_.bos_id >= 0; }
  int eos_id() const override { return config_.eos_id; }
  bool adds_eos() const override { return config_.add_eos && config_.eos_id >= 0; }
  const std::vector<SpmPiece>& pieces() const { return pieces_; }
  const SpmConfig& config() const { return config_; }

 private:
  // Text after whitespace handling and the dummy prefix (when `dummy_prefix` and the
  // configuration has one); what the BPE merges operate on.
  std::string normalize(std::string_view text, bool dummy_prefix) const;
  // Appends the ids of one stretch of text (no special tokens cut out of it).
  void encode_text(std::string_view text, bool dummy_prefix, std::vector<int>* out) const;
  // Length of the user-defined piece starting at s[pos] (longest match), 0 if none; *id set.
  size_t match_user_defined(std::string_view s, size_t pos, int* id) const;
  // Appends the ids for a symbol that has no piece: byte pieces, or unk.
  void emit_unknown(std::string_view symbol, std::vector<int>* out) const;
  // Runs the merges over one segment of symbols (no merge crosses a segment boundary) and
  // appends its ids. `heap` is scratch space; `previous_was_unk` carries over between segments.
  void encode_segment(std::string_view norm, std::vector<BpeSymbol>* symbols,
                      std::vector<BpeCandidate>* heap, bool* previous_was_unk,
                      std::vector<int>* out) const;

  std::vector<SpmPiece> pieces_;
  SpmConfig config_;
  // Pieces that a symbol may become: normal, user-defined, unused (first occurrence wins).
  std::unordered_map<std::string, int, StringViewHash, std::equal_to<>> piece_ids_;
  int byte_ids_[256];           // id of <0xXX> for each byte value, -1 where absent
  size_t max_piece_bytes_ = 0;  // longest mergeable piece; longer pairs are never looked up
  // Every two consecutive characters inside a mergeable piece. Where the text has a character
  // pair not in this set, no merge can ever cross, so the text is encoded segment by segment
  // with small heaps (same result as one global heap, far fewer cache misses).
  std::unordered_set<std::string, StringViewHash, std::equal_to<>> adjacent_pairs_;
  // Byte trie over user-defined pieces (matched whole before merging); empty when none.
  // Edge key: node * 256 + byte -> child node; node_piece_[node] = piece id or -1.
  std::unordered_map<uint64_t, int32_t> trie_edges_;
  std::vector<int32_t> trie_piece_;
  SpecialTokens special_;  // control, unknown and user-defined pieces for cutting text
};

}  // namespace lc
