// SentencePiece-BPE: split normalized text into characters (user-defined pieces whole), then
// repeatedly merge the adjacent pair whose concatenation is the highest-scoring piece, leftmost on
// ties (SentencePiece bpe_model.cc; llama2.c encode()). A max-heap of candidate merges over a
// doubly linked list of symbols makes this O(n log n): a merge only creates candidates with its
// two new neighbours, and heap entries made stale by an earlier merge are skipped when popped.
#include "tokenizer/spm_tokenizer.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace lc {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's space

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Highest score first, then leftmost.
template <typename C>
bool candidate_less(const C& a, const C& b) {
  return a.score < b.score || (a.score == b.score && a.left > b.left);
}

// Segments are capped so that symbol indices fit int32; a cut forced there is the only place the
// result can differ from one global merge order (a single run of over 2^30 mergeable characters).
constexpr size_t kMaxSegmentSymbols = size_t{1} << 30;

}  // namespace

struct BpeSymbol {
  uint32_t start;  // byte offset in the normalized text, relative to the segment start
  uint32_t len;    // bytes; 0 once merged into its left neighbour
  int32_t prev;    // -1 at the ends
  int32_t next;
  int32_t id;  // piece id of the symbol's text, -1 if it has none
};

struct BpeCandidate {
  float score;
  int32_t left;  // the right symbol is symbols[left].next
  uint32_t len;  // len(left) + len(right) when queued; lengths only grow, so a mismatch on pop
                 // means one side has merged since (stale entry)
  int32_t id;    // the merged piece
};

int parse_byte_piece(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  const int hi = hex_digit(text[3]), lo = hex_digit(text[4]);
  return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
}

SpmTokenizer::SpmTokenizer(std::vector<SpmPiece> pieces, const SpmConfig& config,
                           const std::string& name)
    : pieces_(std::move(pieces)), config_(config) {
  const size_t n = pieces_.size();
  check(n > 0, name, ": tokenizer has no pieces");
  check(n <= static_cast<size_t>(INT32_MAX), name, ": too many pieces (", n, ")");
  const auto check_id = [&](int id, const char* what) {
    check(id >= -1 && static_cast<int64_t>(id) < static_cast<int64_t>(n), name, ": ", what, " id ",
          id, " is outside the vocabulary of ", n, " pieces");
  };
  check_id(config_.bos_id, "BOS");
  check_id(config_.eos_id, "EOS");
  check_id(config_.unk_id, "unk");

  for (int& b : byte_ids_) b = -1;
  trie_piece_.push_back(-1);  // root
  for (size_t i = 0; i < n; ++i) {
    const SpmPiece& p = pieces_[i];
    const int id = static_cast<int>(i);
    check(p.type >= kPieceNormal && p.type <= kPieceByte, name, ": piece ", i, " has type ", p.type,
          ", expected 1..6 (normal, unknown, control, user-defined, unused, byte)");
    check(!std::isnan(p.score), name, ": piece ", i, " has a NaN score");
    if (p.type == kPieceByte) {
      const int value = parse_byte_piece(p.text);
      check(value >= 0, name, ": byte piece ", i, " has text '", p.text, "', expected <0xXX>");
      if (byte_ids_[value] < 0) byte_ids_[value] = id;
      continue;
    }
    if (p.type != kPieceNormal && p.type != kPieceUserDefined && p.type != kPieceUnused) continue;
    if (p.text.empty() || !piece_ids_.emplace(p.text, id).second) continue;
    if (p.type != kPieceUnused) {
      max_piece_bytes_ = std::max(max_piece_bytes_, p.text.size());
      // Record each pair of consecutive characters, split exactly as encode() splits text.
      const std::string_view t = p.text;
      for (size_t pos = 0, prev_len = 0; pos < t.size();) {
        const size_t len = utf8::char_len(t, pos);
        if (prev_len > 0) adjacent_pairs_.emplace(t.substr(pos - prev_len, prev_len + len));
        prev_len = len;
        pos += len;
      }
    }
    if (p.type == kPieceUserDefined) {
      size_t node = 0;
      for (const char c : p.text) {
        const uint64_t key = static_cast<uint64_t>(node) * 256 + static_cast<uint8_t>(c);
        auto [it, inserted] = trie_edges_.emplace(key, static_cast<int32_t>(trie_piece_.size()));
        if (inserted) trie_piece_.push_back(-1);
        node = static_cast<size_t>(it->second);
      }
      if (trie_piece_[node] < 0) trie_piece_[node] = id;
    }
  }
  if (trie_edges_.empty()) trie_piece_.clear();
  std::vector<std::string> texts;
  std::vector<int> types;
  texts.reserve(n);
  types.reserve(n);
  for (const SpmPiece& p : pieces_) {
    texts.push_back(p.text);
    types.push_back(p.type);
  }
  special_ = SpecialTokens(texts, types, config_.rstrip_ids);
}

std::string SpmTokenizer::normalize(std::string_view text, bool dummy_prefix) const {
  std::string collapsed;
  if (config_.remove_extra_whitespaces) {
    // SentencePiece normalizer: drop leading and trailing spaces, squeeze runs to one.
    collapsed.reserve(text.size());
    bool pending_space = false;
    for (const char c : text) {
      if (c == ' ') {
        pending_space = !collapsed.empty();
        continue;
      }
      if (pending_space) collapsed += ' ';
      pending_space = false;
      collapsed += c;
    }
    text = collapsed;
  }
  std::string out;
  if (text.empty()) return out;
  const std::string_view space = config_.escape_whitespaces ? kSpaceMarker : " ";
  out.reserve(text.size() + space.size());
  if (dummy_prefix && config_.add_dummy_prefix) out += space;
  for (const char c : text) {
    if (c == ' ') {
      out += space;
    } else {
      out += c;
    }
  }
  return out;
}

size_t SpmTokenizer::match_user_defined(std::string_view s, size_t pos, int* id) const {
  size_t node = 0, best = 0;
  for (size_t i = pos; i < s.size(); ++i) {
    const uint64_t key = static_cast<uint64_t>(node) * 256 + static_cast<uint8_t>(s[i]);
    const auto it = trie_edges_.find(key);
    if (it == trie_edges_.end()) break;
    node = static_cast<size_t>(it->second);
    if (trie_piece_[node] >= 0) {
      best = i - pos + 1;
      *id = trie_piece_[node];
    }
  }
  return best;
}

void SpmTokenizer::emit_unknown(std::string_view symbol, std::vector<int>* out) const {
  bool all_bytes = config_.byte_fallback;
  for (size_t i = 0; all_bytes && i < symbol.size(); ++i) {
    all_bytes = byte_ids_[static_cast<uint8_t>(symbol[i])] >= 0;
  }
  if (all_bytes) {
    for (const char c : symbol) out->push_back(byte_ids_[static_cast<uint8_t>(c)]);
  } else if (config_.unk_id >= 0) {
    out->push_back(config_.unk_id);
  }
}

void SpmTokenizer::encode_segment(std::string_view norm, std::vector<BpeSymbol>* symbols_ptr,
                                  std::vector<BpeCandidate>* heap_ptr, bool* previous_was_unk,
                                  std::vector<int>* out) const {
  std::vector<BpeSymbol>& symbols = *symbols_ptr;
  std::vector<BpeCandidate>& heap = *heap_ptr;
  const auto less = [](const BpeCandidate& a, const BpeCandidate& b) {
    return candidate_less(a, b);
  };
  const auto try_pair = [&](int32_t left) {
    if (left < 0) return;
    const BpeSymbol& l = symbols[static_cast<size_t>(left)];
    if (l.next < 0) return;
    const BpeSymbol& r = symbols[static_cast<size_t>(l.next)];
    const size_t len = size_t{l.len} + r.len;
    if (len > max_piece_bytes_) return;
    const auto it = piece_ids_.find(norm.substr(l.start, len));
    if (it == piece_ids_.end()) return;
    const SpmPiece& piece = pieces_[static_cast<size_t>(it->second)];
    if (piece.type == kPieceUnused) return;
    heap.push_back({piece.score, left, static_cast<uint32_t>(len), it->second});
    std::push_heap(heap.begin(), heap.end(), less);
  };

  heap.clear();
  if (symbols.size() > 1) {
    for (size_t i = 0; i + 1 < symbols.size(); ++i) try_pair(static_cast<int32_t>(i));
  }
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), less);
    const BpeCandidate c = heap.back();
    heap.pop_back();
    BpeSymbol& l = symbols[static_cast<size_t>(c.left)];
    if (l.len == 0 || l.next < 0) continue;
    BpeSymbol& r = symbols[static_cast<size_t>(l.next)];
    if (l.len + r.len != c.len) continue;  // stale: one side merged since it was queued
    l.len = c.len;
    l.id = c.id;
    l.next = r.next;
    if (r.next >= 0) symbols[static_cast<size_t>(r.next)].prev = c.left;
    r.len = 0;
    try_pair(l.prev);
    try_pair(c.left);
  }

  for (int32_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) {
    const BpeSymbol& s = symbols[static_cast<size_t>(i)];
    if (s.id >= 0) {
      out->push_back(s.id);
      *previous_was_unk = false;
      continue;
    }
    const size_t before = out->size();
    emit_unknown(norm.substr(s.start, s.len), out);
    // SentencePiece emits a single unk for a run of unknown symbols.
    const bool is_unk = out->size() == before + 1 && out->back() == config_.unk_id;
    if (is_unk && *previous_was_unk) out->pop_back();
    *previous_was_unk = is_unk;
  }
}

std::vector<int> SpmTokenizer::encode(std::string_view text, const EncodeOptions& o) const {
  std::vector<int> out;
  if (o.add_bos && config_.bos_id >= 0) out.push_back(config_.bos_id);
  if (!o.parse_special && !config_.split_user_defined) {
    encode_text(text, /*dummy_prefix=*/true, &out);
  } else {
    // llama.cpp: each stretch of text after a special token (or at the start) gets the dummy
    // prefix.
    std::vector<TextFragment> frags;
    special_.partition(text, o.parse_special, &frags);
    bool after_special = true;
    for (const TextFragment& f : frags) {
      if (f.token >= 0) {
        out.push_back(f.token);
      } else {
        encode_text(text.substr(f.begin, f.end - f.begin), after_special, &out);
      }
      after_special = f.token >= 0;
    }
  }
  if (o.add_eos && config_.eos_id >= 0) out.push_back(config_.eos_id);
  return out;
}

void SpmTokenizer::encode_text(std::string_view text, bool dummy_prefix,
                               std::vector<int>* out_ptr) const {
  std::vector<int>& out = *out_ptr;
  const std::string norm_storage = normalize(text, dummy_prefix);
  const std::string_view norm = norm_storage;
  out.reserve(out.size() + norm.size() / 3 + 1);

  // Walk the text in characters (user-defined pieces whole) and cut it into segments wherever
  // two neighbours never occur together inside a mergeable piece, or next to a user-defined
  // piece; each segment is merged on its own.
  std::vector<BpeSymbol> segment;
  std::vector<BpeCandidate> heap;
  size_t segment_begin = 0;
  bool previous_was_unk = false;
  bool previous_frozen = false;
  const auto flush = [&](size_t end) {
    if (segment.empty()) return;
    segment.back().next = -1;
    encode_segment(norm.substr(segment_begin, end - segment_begin), &segment, &heap,
                   &previous_was_unk, &out);
    segment.clear();
    segment_begin = end;
  };
  for (size_t pos = 0; pos < norm.size();) {
    int id = -1;
    size_t len = trie_piece_.empty() ? 0 : match_user_defined(norm, pos, &id);
    const bool frozen = len > 0;
    if (!frozen) {
      len = utf8::char_len(norm, pos);
      const auto it = piece_ids_.find(norm.substr(pos, len));
      if (it != piece_ids_.end()) id = it->second;
    }
    if (!segment.empty()) {
      const BpeSymbol& last = segment.back();
      const size_t last_begin = segment_begin + last.start;
      const bool cut = frozen || previous_frozen || segment.size() >= kMaxSegmentSymbols ||
                       pos - segment_begin + len > UINT32_MAX ||
                       !adjacent_pairs_.contains(norm.substr(last_begin, last.len + len));
      if (cut) flush(pos);
    }
    const auto index = static_cast<int32_t>(segment.size());
    segment.push_back({static_cast<uint32_t>(pos - segment_begin), static_cast<uint32_t>(len),
                       index - 1, index + 1, id});
    previous_frozen = frozen;
    pos += len;
  }
  flush(norm.size());
}

std::string SpmTokenizer::decode(int prev_id, int id, bool special) const {
  if (id < 0 || static_cast<size_t>(id) >= pieces_.size()) return {};
  const SpmPiece& p = pieces_[static_cast<size_t>(id)];
  if (p.type == kPieceByte) {
    return std::string(1, static_cast<char>(parse_byte_piece(p.text)));
  }
  if (p.type == kPieceControl || p.type == kPieceUnknown) {
    if (special) return p.text;  // llama.cpp: the piece's text as stored
    if (config_.control_decodes_empty) return {};
  }
  std::string s;
  if (config_.escape_whitespaces) {
    s.reserve(p.text.size());
    for (size_t i = 0; i < p.text.size();) {
      if (std::string_view(p.text).substr(i, kSpaceMarker.size()) == kSpaceMarker) {
        s += ' ';
        i += kSpaceMarker.size();
      } else {
        s += p.text[i++];
      }
    }
  } else {
    s = p.text;
  }
  if (prev_id >= 0 && prev_id == config_.bos_id && !s.empty() && s[0] == ' ') s.erase(0, 1);
  return s;
}

std::unique_ptr<Tokenizer> make_spm_tokenizer(std::vector<SpmPiece> pieces, int bos_id, int eos_id,
                                              int unk_id, bool add_dummy_prefix) {
  SpmConfig config;
  config.bos_id = bos_id;
  config.eos_id = eos_id;
  config.unk_id = unk_id;
  config.add_dummy_prefix = add_dummy_prefix;
  return std::make_unique<SpmTokenizer>(std::move(pieces), config, "make_spm_tokenizer");
}

}  // namespace lc
