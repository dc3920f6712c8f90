// SentencePiece-BPE: split normalized text into characters (user-defined pieces whole), then
// repeatedly merge the adjacent pair whose concatenation is the highest-scoring piece, leftmost on
// ties (SentencePiece bpe_model.cc; llama2.c encode()). A max-heap of candidate merges over a
// doubly linked list of symbols makes this O(n log n): a merge only creates candidates with its
// two new neighbours, and heap entries made stale by an earlier merge are skipped when popped.
#include "tokenizer/spm_tokenizer.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <queue>
#include <utility>

#include "core/error.h"

namespace lc {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// Bytes in the well-formed UTF-8 character starting at s[pos]; 1 for a byte that does not start
// one (the byte then goes to byte fallback on its own).
size_t utf8_char_len(std::string_view s, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t lead = byte(pos);
  size_t n = 0;
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) n = 2;
  else if (lead >= 0xE0 && lead <= 0xEF) n = 3;
  else if (lead >= 0xF0 && lead <= 0xF4) n = 4;
  else return 1;
  if (pos + n > s.size()) return 1;
  for (size_t i = 1; i < n; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80) return 1;
  }
  const uint8_t second = byte(pos + 1);  // reject overlong forms, surrogates, > U+10FFFF
  if ((lead == 0xE0 && second < 0xA0) || (lead == 0xED && second > 0x9F) ||
      (lead == 0xF0 && second < 0x90) || (lead == 0xF4 && second > 0x8F)) {
    return 1;
  }
  return n;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

struct Symbol {
  size_t start;     // byte offset in the normalized text
  size_t len;       // bytes; 0 once merged into its left neighbour
  ptrdiff_t prev;   // -1 at the ends
  ptrdiff_t next;
  int id;           // piece id of the symbol's text, -1 if it has none
  bool frozen;      // a user-defined piece: never merged
};

struct Candidate {
  float score;
  ptrdiff_t left;
  ptrdiff_t right;
  size_t len;  // len(left) + len(right) when queued; a mismatch on pop means stale
  int id;
};

// Highest score first, then leftmost.
struct CandidateLess {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

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
    check(id >= -1 && static_cast<int64_t>(id) < static_cast<int64_t>(n), name, ": ", what,
          " id ", id, " is outside the vocabulary of ", n, " pieces");
  };
  check_id(config_.bos_id, "BOS");
  check_id(config_.eos_id, "EOS");
  check_id(config_.unk_id, "unk");

  for (int& b : byte_ids_) b = -1;
  trie_piece_.push_back(-1);  // root
  for (size_t i = 0; i < n; ++i) {
    const SpmPiece& p = pieces_[i];
    const int id = static_cast<int>(i);
    check(p.type >= kPieceNormal && p.type <= kPieceByte, name, ": piece ", i,
          " has type ", p.type, ", expected 1..6 (normal, unknown, control, user-defined, "
          "unused, byte)");
    check(!std::isnan(p.score), name, ": piece ", i, " has a NaN score");
    if (p.type == kPieceByte) {
      const int value = parse_byte_piece(p.text);
      check(value >= 0, name, ": byte piece ", i, " has text '", p.text,
            "', expected <0xXX>");
      if (byte_ids_[value] < 0) byte_ids_[value] = id;
      continue;
    }
    if (p.type != kPieceNormal && p.type != kPieceUserDefined && p.type != kPieceUnused) continue;
    if (p.text.empty() || !piece_ids_.emplace(p.text, id).second) continue;
    if (p.type != kPieceUnused && p.text.size() > max_piece_bytes_) {
      max_piece_bytes_ = p.text.size();
    }
    if (p.type == kPieceUserDefined) {
      size_t node = 0;
      for (const char c : p.text) {
        const uint64_t key = static_cast<uint64_t>(node) * 256 + static_cast<uint8_t>(c);
        auto [it, inserted] =
            trie_edges_.emplace(key, static_cast<int32_t>(trie_piece_.size()));
        if (inserted) trie_piece_.push_back(-1);
        node = static_cast<size_t>(it->second);
      }
      if (trie_piece_[node] < 0) trie_piece_[node] = id;
    }
  }
  if (trie_edges_.empty()) trie_piece_.clear();
}

std::string SpmTokenizer::normalize(std::string_view text) const {
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
  if (config_.add_dummy_prefix) out += space;
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

std::vector<int> SpmTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int> out;
  if (add_bos && config_.bos_id >= 0) out.push_back(config_.bos_id);
  const std::string norm = normalize(text);
  if (norm.empty()) return out;
  const std::string_view norm_view = norm;

  // Initial symbols: whole user-defined pieces, else single UTF-8 characters.
  std::vector<Symbol> symbols;
  symbols.reserve(norm.size());
  for (size_t pos = 0; pos < norm.size();) {
    int id = -1;
    size_t len = trie_piece_.empty() ? 0 : match_user_defined(norm_view, pos, &id);
    const bool frozen = len > 0;
    if (!frozen) {
      len = utf8_char_len(norm_view, pos);
      const auto it = piece_ids_.find(norm_view.substr(pos, len));
      if (it != piece_ids_.end()) id = it->second;
    }
    const auto index = static_cast<ptrdiff_t>(symbols.size());
    symbols.push_back({pos, len, index - 1, index + 1, id, frozen});
    pos += len;
  }
  symbols.back().next = -1;

  std::vector<Candidate> heap_storage;
  heap_storage.reserve(symbols.size());
  std::priority_queue<Candidate, std::vector<Candidate>, CandidateLess> heap(
      CandidateLess{}, std::move(heap_storage));
  const auto try_pair = [&](ptrdiff_t left, ptrdiff_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[static_cast<size_t>(left)];
    const Symbol& r = symbols[static_cast<size_t>(right)];
    if (l.frozen || r.frozen) return;
    const size_t len = l.len + r.len;
    if (len > max_piece_bytes_) return;
    const auto it = piece_ids_.find(norm_view.substr(l.start, len));
    if (it == piece_ids_.end()) return;
    const SpmPiece& piece = pieces_[static_cast<size_t>(it->second)];
    if (piece.type == kPieceUnused) return;
    heap.push({piece.score, left, right, len, it->second});
  };
  for (size_t i = 0; i + 1 < symbols.size(); ++i) {
    try_pair(static_cast<ptrdiff_t>(i), static_cast<ptrdiff_t>(i + 1));
  }

  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    Symbol& l = symbols[static_cast<size_t>(c.left)];
    Symbol& r = symbols[static_cast<size_t>(c.right)];
    if (l.len == 0 || r.len == 0 || l.next != c.right || l.len + r.len != c.len) continue;
    l.len = c.len;
    l.id = c.id;
    l.next = r.next;
    if (r.next >= 0) symbols[static_cast<size_t>(r.next)].prev = c.left;
    r.len = 0;
    try_pair(l.prev, c.left);
    try_pair(c.left, l.next);
  }

  out.reserve(out.size() + symbols.size());
  bool previous_was_unk = false;  // SentencePiece emits one unk for a run of unknown symbols
  for (ptrdiff_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) {
    const Symbol& s = symbols[static_cast<size_t>(i)];
    if (s.id >= 0) {
      out.push_back(s.id);
      previous_was_unk = false;
      continue;
    }
    const size_t before = out.size();
    emit_unknown(norm_view.substr(s.start, s.len), &out);
    const bool is_unk = out.size() == before + 1 && out.back() == config_.unk_id;
    if (is_unk && previous_was_unk) out.pop_back();
    previous_was_unk = is_unk;
  }
  return out;
}

std::string SpmTokenizer::decode(int prev_id, int id) const {
  if (id < 0 || static_cast<size_t>(id) >= pieces_.size()) return {};
  const SpmPiece& p = pieces_[static_cast<size_t>(id)];
  if (p.type == kPieceByte) {
    return std::string(1, static_cast<char>(parse_byte_piece(p.text)));
  }
  if ((p.type == kPieceControl || p.type == kPieceUnknown) && config_.control_decodes_empty) {
    return {};
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
