#include "tokenizer/bpe_tokenizer.h"

// GCC 12 at -O3 reports a false -Wrestrict inside std::string concatenation (GCC bug 105329).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

#include <algorithm>
#include <fstream>
#include <queue>
#include <sstream>
#include <unordered_map>

#include "core/error.h"
#include "formats/json.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/utf8.h"

namespace lc {

namespace {

// GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 bytes to
// U+0100 onwards in byte order.
struct ByteMap {
  std::string to_text[256];                       // byte -> UTF-8 of its code point
  std::unordered_map<uint32_t, uint8_t> to_byte;  // code point -> byte
  ByteMap() {
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      const uint32_t cp = keep ? static_cast<uint32_t>(b) : next++;
      utf8::append(&to_text[b], cp);
      to_byte[cp] = static_cast<uint8_t>(b);
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

class BpeTokenizer final : public Tokenizer {
 public:
  using Tokenizer::decode;
  using Tokenizer::encode;

  BpeTokenizer(BpeSpec spec, const std::string& name)
      : spec_(std::move(spec)),
        special_(
            spec_.tokens,
            spec_.types.empty() ? std::vector<int>(spec_.tokens.size(), kPieceNormal) : spec_.types,
            spec_.rstrip_ids) {
    const int64_t n = static_cast<int64_t>(spec_.tokens.size());
    check(n > 0 && n < INT32_MAX, name, ": BPE vocabulary is empty or too large");
    if (spec_.types.empty()) spec_.types.assign(spec_.tokens.size(), kPieceNormal);
    check(spec_.types.size() == spec_.tokens.size(), name, ": BPE has ", n, " tokens but ",
          spec_.types.size(), " token types");
    if (!spec_.pre) spec_.pre = find_pretokenizer("gpt2");
    for (int64_t i = 0; i < n; ++i) ids_.emplace(spec_.tokens[i], static_cast<int>(i));
    for (int id : {spec_.bos_id, spec_.eos_id})
      check(id >= -1 && id < n, name, ": BPE special token id ", id, " out of range");
    for (size_t r = 0; r < spec_.merges.size(); ++r) {
      const std::string& m = spec_.merges[r];
      const size_t sp = m.find(' ', 1);
      check(sp != std::string::npos && sp + 1 < m.size(), name, ": BPE merge ", r, " '", m,
            "' is not 'left right'");
      auto l = ids_.find(m.substr(0, sp)), rr = ids_.find(m.substr(sp + 1));
      auto merged = ids_.find(m.substr(0, sp) + m.substr(sp + 1));
      // Merges whose parts or result are not tokens can never apply; skip them.
      if (l == ids_.end() || rr == ids_.end() || merged == ids_.end()) continue;
      merges_.emplace(key(l->second, rr->second),
                      std::make_pair(static_cast<int>(r), merged->second));
    }
    for (int b = 0; b < 256; ++b) {
      auto it = ids_.find(byte_map().to_text[b]);
      byte_ids_[b] = it == ids_.end() ? -1 : it->second;
    }
  }

  std::vector<int> encode(std::string_view text, const EncodeOptions& o) const override {
    std::vector<int> out;
    if (o.add_bos && spec_.bos_id >= 0) out.push_back(spec_.bos_id);
    std::vector<TextFragment> frags;
    special_.partition(text, o.parse_special, &frags);
    std::vector<std::pair<size_t, size_t>> pieces;
    std::string mapped;
    for (const TextFragment& f : frags) {
      if (f.token >= 0) {
        out.push_back(f.token);
        continue;
      }
      const std::string_view frag = text.substr(f.begin, f.end - f.begin);
      pieces.clear();
      spec_.pre->split(frag, &pieces);
      for (const auto& [b, e] : pieces) {
        const std::string_view piece = frag.substr(b, e - b);
        if (spec_.pre->ignore_merges()) {  // a piece that is a token is that token
          mapped.clear();
          for (unsigned char c : piece) mapped += byte_map().to_text[c];
          if (auto it = ids_.find(mapped); it != ids_.end()) {
            out.push_back(it->second);
            continue;
          }
        }
        encode_piece(piece, &out);
      }
    }
    if (o.add_eos && spec_.eos_id >= 0) out.push_back(spec_.eos_id);
    return out;
  }

  // As llama.cpp's token_to_piece: control and unknown tokens print only when asked, unused ones
  // never; user-defined tokens are raw text; the others are byte-mapped text.
  std::string decode(int /*prev_id*/, int id, bool special) const override {
    if (id < 0 || id >= vocab_size()) return "";
    const int type = spec_.types[id];
    const std::string& t = spec_.tokens[id];
    if (type == kPieceControl || type == kPieceUnknown) return special ? t : "";
    if (type == kPieceUnused) return "";
    if (type == kPieceUserDefined) return t;
    std::string out;
    for (size_t p = 0; p < t.size();) {
      size_t len;
      const uint32_t cp = utf8::decode(t, p, &len);
      auto it = byte_map().to_byte.find(cp);
      if (it != byte_map().to_byte.end())
        out.push_back(static_cast<char>(it->second));
      else
        out.append(t, p, len);
      p += len;
    }
    return out;
  }
  int vocab_size() const override { return static_cast<int>(spec_.tokens.size()); }
  int bos_id() const override { return spec_.bos_id; }
  bool adds_bos() const override { return spec_.add_bos && spec_.bos_id >= 0; }
  int eos_id() const override { return spec_.eos_id; }
  bool adds_eos() const override { return spec_.add_eos && spec_.eos_id >= 0; }

 private:
  static uint64_t key(int l, int r) {
    return static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32 | static_cast<uint32_t>(r);
  }

  // Merges lowest rank first (leftmost on ties) over a linked list of symbols with a heap of
  // candidate pairs; entries made stale by an earlier merge are skipped when popped.
  void encode_piece(std::string_view piece, std::vector<int>* out) const {
    struct Sym {
      int id, prev, next;
    };
    std::vector<Sym> sy;
    for (unsigned char b : piece) {
      const int i = static_cast<int>(sy.size());
      sy.push_back({byte_ids_[b], i - 1, i + 1});
    }
    if (sy.empty()) return;
    sy.back().next = -1;
    struct Cand {
      int rank, left, lid, rid;
      bool operator<(const Cand& o) const {
        return rank > o.rank || (rank == o.rank && left > o.left);
      }
    };
    std::priority_queue<Cand> heap;
    auto push = [&](int l) {
      if (l < 0 || sy[l].next < 0) return;
      const int r = sy[l].next;
      if (sy[l].id < 0 || sy[r].id < 0) return;
      auto it = merges_.find(key(sy[l].id, sy[r].id));
      if (it != merges_.end()) heap.push({it->second.first, l, sy[l].id, sy[r].id});
    };
    for (int i = 0; i + 1 < static_cast<int>(sy.size()); ++i) push(i);
    while (!heap.empty()) {
      const Cand c = heap.top();
      heap.pop();
      const int r = sy[c.left].next;
      if (sy[c.left].id != c.lid || r < 0 || sy[r].id != c.rid) continue;  // stale
      sy[c.left].id = merges_.at(key(c.lid, c.rid)).second;
      sy[c.left].next = sy[r].next;
      if (sy[r].next >= 0) sy[sy[r].next].prev = c.left;
      sy[r].id = -2;  // dead
      push(sy[c.left].prev);
      push(c.left);
    }
    for (int i = 0; i >= 0; i = sy[i].next)
      if (sy[i].id >= 0) out->push_back(sy[i].id);
  }

  BpeSpec spec_;
  SpecialTokens special_;
  std::unordered_map<std::string, int> ids_;
  std::unordered_map<uint64_t, std::pair<int, int>> merges_;  // (left, right) -> (rank, merged)
  int byte_ids_[256];
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Fills tokens from a {token: id} object whose ids must be a permutation of 0..n-1.
void vocab_from_json(const Json& v, const std::string& name, std::vector<std::string>* tokens) {
  if (!v.is_object()) fail(name, ": BPE vocab must be a JSON object {token: id}");
  tokens->assign(v.members().size(), std::string());
  std::vector<bool> used(tokens->size());
  for (const auto& [tok, id] : v.members()) {
    if (!id.is_int() || id.integer() < 0 || id.integer() >= static_cast<int64_t>(tokens->size()) ||
        used[id.integer()])
      fail(name, ": BPE vocab entry '", tok, "' has a bad or repeated id (ids must be 0..",
           tokens->size() - 1, ")");
    used[id.integer()] = true;
    (*tokens)[id.integer()] = tok;
  }
}

int find_id(const BpeSpec& s, const std::string& text) {
  for (size_t i = 0; i < s.tokens.size(); ++i)
    if (s.tokens[i] == text) return static_cast<int>(i);
  return -1;
}

}  // namespace

std::string bpe_byte_text(unsigned char b) { return byte_map().to_text[b]; }

std::unique_ptr<Tokenizer> make_bpe_tokenizer(BpeSpec spec, const std::string& name) {
  return std::make_unique<BpeTokenizer>(std::move(spec), name);
}

std::unique_ptr<Tokenizer> load_bpe_vocab_merges(const std::string& vocab_json,
                                                 const std::string& merges_txt) {
  BpeSpec spec;
  vocab_from_json(parse_json(read_file(vocab_json), vocab_json), vocab_json, &spec.tokens);
  std::istringstream in(read_file(merges_txt));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    spec.merges.push_back(line);
  }
  spec.types.assign(spec.tokens.size(), 1);
  const int eot = find_id(spec, "<|endoftext|>");
  if (eot >= 0) spec.types[eot] = 3;
  spec.bos_id = spec.eos_id = eot;
  return make_bpe_tokenizer(std::move(spec), vocab_json);
}

std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::string& path) {
  const Json root = parse_json(read_file(path), path);
  const Json* model = root.is_object() ? root.find("model") : nullptr;
  if (!model || !model->is_object()) fail(path, ": tokenizer.json has no 'model' object");
  const Json* type = model->find("type");
  if (!type || !type->is_string() || type->str() != "BPE")
    fail(path, ": tokenizer.json model.type must be \"BPE\" (byte-level BPE)");
  BpeSpec spec;
  const Json* vocab = model->find("vocab");
  if (!vocab) fail(path, ": tokenizer.json has no model.vocab");
  vocab_from_json(*vocab, path, &spec.tokens);
  spec.types.assign(spec.tokens.size(), 1);
  const Json* merges = model->find("merges");
  if (!merges || !merges->is_array()) fail(path, ": tokenizer.json has no model.merges array");
  for (const Json& m : merges->items()) {
    if (m.is_string()) {
      spec.merges.push_back(m.str());
    } else if (m.is_array() && m.items().size() == 2 && m.items()[0].is_string() &&
               m.items()[1].is_string()) {
      spec.merges.push_back(m.items()[0].str() + " " + m.items()[1].str());
    } else {
      fail(path, ": tokenizer.json merge entries must be \"a b\" or [\"a\", \"b\"]");
    }
  }
  if (const Json* added = root.find("added_tokens"); added && added->is_array()) {
    for (const Json& a : added->items()) {
      const Json* id = a.find("id");
      const Json* content = a.find("content");
      const Json* special = a.find("special");
      if (!id || !id->is_int() || !content || !content->is_string())
        fail(path, ": tokenizer.json added_tokens entries need an integer id and a content");
      const int64_t i = id->integer();
      if (i < 0 || i > static_cast<int64_t>(spec.tokens.size()))
        fail(path, ": tokenizer.json added token id ", i, " is out of range");
      if (i == static_cast<int64_t>(spec.tokens.size())) {
        spec.tokens.push_back(content->str());
        spec.types.push_back(1);
      }
      spec.types[i] = (special && special->is_bool() && special->boolean()) ? 3 : 4;
    }
  }
  const int eot = find_id(spec, "<|endoftext|>");
  spec.bos_id = spec.eos_id = eot;
  return make_bpe_tokenizer(std::move(spec), path);
}

}  // namespace lc
