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
#include "tokenizer/unicode.h"

namespace lc {

namespace {

using unicode::decode_utf8;
using unicode::is_letter;
using unicode::is_number;
using unicode::is_whitespace;

void put_utf8(std::string* o, uint32_t cp) {
  if (cp < 0x80) {
    o->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    o->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    o->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    o->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    o->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    o->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

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
      put_utf8(&to_text[b], cp);
      to_byte[cp] = static_cast<uint8_t>(b);
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

enum class Cat { Letter, Number, Space, Other };
Cat category(uint32_t cp) {
  if (cp == unicode::kInvalid) return Cat::Other;
  if (is_letter(cp)) return Cat::Letter;
  if (is_number(cp)) return Cat::Number;
  if (is_whitespace(cp)) return Cat::Space;
  return Cat::Other;
}

// Splits text into pre-tokens (byte ranges) by the GPT-2 regex; alternatives are tried in
// order at each position, as a backtracking regex engine does.
void pretokenize(std::string_view s, std::vector<std::pair<size_t, size_t>>* out) {
  struct Char {
    size_t pos;
    Cat cat;
    uint32_t cp;
  };
  std::vector<Char> cs;
  for (size_t p = 0; p < s.size();) {
    size_t len;
    const uint32_t cp = decode_utf8(s, p, &len);
    cs.push_back({p, category(cp), cp});
    p += len;
  }
  const size_t n = cs.size();
  auto at = [&](size_t i) { return i < n ? cs[i].pos : s.size(); };
  auto run = [&](size_t i, Cat c) {
    while (i < n && cs[i].cat == c) ++i;
    return i;
  };
  for (size_t i = 0; i < n;) {
    size_t j = i;
    const uint32_t c = cs[i].cp;
    // 's|'t|'re|'ve|'m|'ll|'d
    if (c == '\'' && i + 1 < n) {
      const uint32_t a = cs[i + 1].cp, b = i + 2 < n ? cs[i + 2].cp : 0;
      if (a == 's' || a == 't' || a == 'm' || a == 'd')
        j = i + 2;
      else if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        j = i + 3;
    }
    if (j == i) {
      // ' ?X+' for X in letter, number, other: a single leading ' ' joins the run after it.
      const size_t k = (c == ' ' && i + 1 < n && cs[i + 1].cat != Cat::Space) ? i + 1 : i;
      if (cs[k].cat != Cat::Space) j = run(k, cs[k].cat);
    }
    if (j == i && cs[i].cat == Cat::Space) {
      // \s+(?!\S) | \s+ : a run of whitespace, leaving its last character to prefix the next
      // word when one follows.
      const size_t e = run(i, Cat::Space);
      j = (e < n && e - i > 1) ? e - 1 : e;
    }
    if (j == i) j = i + 1;  // unreachable for well-formed categories; guarantees progress
    out->emplace_back(at(i), at(j));
    i = j;
  }
}

// "\p{N}" first: each number character alone, the GPT-2 regex on the text between them.
void pretokenize_split_digits(std::string_view s, std::vector<std::pair<size_t, size_t>>* out) {
  size_t start = 0;
  auto flush = [&](size_t end) {
    if (end <= start) return;
    const size_t first = out->size();
    pretokenize(s.substr(start, end - start), out);
    for (size_t i = first; i < out->size(); ++i) {
      (*out)[i].first += start;
      (*out)[i].second += start;
    }
  };
  for (size_t p = 0; p < s.size();) {
    size_t len;
    const uint32_t cp = decode_utf8(s, p, &len);
    if (category(cp) == Cat::Number) {
      flush(p);
      out->emplace_back(p, p + len);
      start = p + len;
    }
    p += len;
  }
  flush(s.size());
}

class BpeTokenizer final : public Tokenizer {
 public:
  BpeTokenizer(BpeSpec spec, const std::string& name) : spec_(std::move(spec)) {
    const int64_t n = static_cast<int64_t>(spec_.tokens.size());
    check(n > 0 && n < INT32_MAX, name, ": BPE vocabulary is empty or too large");
    if (spec_.types.empty()) spec_.types.assign(spec_.tokens.size(), 1);
    check(spec_.types.size() == spec_.tokens.size(), name, ": BPE has ", n, " tokens but ",
          spec_.types.size(), " token types");
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
    for (int64_t i = 0; i < n; ++i)
      if (spec_.types[i] == 4 && !spec_.tokens[i].empty())
        user_defined_.push_back(static_cast<int>(i));
    // Longest first, then by id (std::sort with a total order: stable_sort's temporary buffer
    // uses nothrow new, which the allocation-counting test build does not replace).
    std::sort(user_defined_.begin(), user_defined_.end(), [&](int a, int b) {
      const size_t la = spec_.tokens[a].size(), lb = spec_.tokens[b].size();
      return la != lb ? la > lb : a < b;
    });
  }

  std::vector<int> encode(std::string_view text, bool add_bos) const override {
    std::vector<int> out;
    if (add_bos && spec_.bos_id >= 0) out.push_back(spec_.bos_id);
    // Fragments: (begin, end, token) where token >= 0 is a user-defined token matched whole.
    struct Frag {
      size_t b, e;
      int token;
    };
    std::vector<Frag> frags = {{0, text.size(), -1}};
    for (int id : user_defined_) {
      const std::string& t = spec_.tokens[id];
      std::vector<Frag> next;
      for (const Frag& f : frags) {
        if (f.token >= 0) {
          next.push_back(f);
          continue;
        }
        size_t p = f.b;
        for (;;) {
          const size_t q = text.substr(0, f.e).find(t, p);
          if (q == std::string_view::npos) break;
          if (q > p) next.push_back({p, q, -1});
          next.push_back({q, q + t.size(), id});
          p = q + t.size();
        }
        if (p < f.e) next.push_back({p, f.e, -1});
      }
      frags.swap(next);
    }
    std::vector<std::pair<size_t, size_t>> words;
    for (const Frag& f : frags) {
      if (f.token >= 0) {
        out.push_back(f.token);
        continue;
      }
      words.clear();
      if (spec_.split_digits)
        pretokenize_split_digits(text.substr(f.b, f.e - f.b), &words);
      else
        pretokenize(text.substr(f.b, f.e - f.b), &words);
      for (const auto& w : words) encode_word(text.substr(f.b + w.first, w.second - w.first), &out);
    }
    return out;
  }

  std::string decode(int /*prev_id*/, int id) const override {
    if (id < 0 || id >= vocab_size()) return "";
    if (spec_.types[id] == 3) return "";  // control tokens print nothing
    const std::string& t = spec_.tokens[id];
    if (spec_.types[id] == 4) return t;  // user-defined tokens are raw text
    std::string out;
    for (size_t p = 0; p < t.size();) {
      size_t len;
      const uint32_t cp = decode_utf8(t, p, &len);
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

 private:
  static uint64_t key(int l, int r) {
    return static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32 | static_cast<uint32_t>(r);
  }

  // Merges lowest rank first (leftmost on ties) over a linked list of symbols with a heap of
  // candidate pairs; entries made stale by an earlier merge are skipped when popped.
  void encode_word(std::string_view word, std::vector<int>* out) const {
    struct Sym {
      int id, prev, next;
    };
    std::vector<Sym> sy;
    for (unsigned char b : word) {
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
  std::unordered_map<std::string, int> ids_;
  std::unordered_map<uint64_t, std::pair<int, int>> merges_;  // (left, right) -> (rank, merged)
  int byte_ids_[256];
  std::vector<int> user_defined_;  // longest first
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
