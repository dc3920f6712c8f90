#include "attention/parse.h"

#include <cstdint>

#include "attention/kv_types.h"
#include "attention/policy_table.h"
#include "core/error.h"
#include "core/parse.h"

namespace lc {

namespace {

constexpr int64_t kMaxTokens = int64_t{1} << 40;

int64_t parse_ceiling(const std::string& what, const std::string& s) {
  return s == "none" ? AttentionConfig::kNoCeiling : parse_int(what, s, 0, kMaxTokens);
}

TramsScore parse_score(const std::string& what, const std::string& s) {
  if (s == "paper") return TramsScore::Paper;
  if (s == "code") return TramsScore::Code;
  fail(what, ": expected paper or code, got '", s, "'");
}

bool parse_compacted(const std::string& what, const std::string& s) {
  if (s == "true") return false;
  if (s == "compacted") return true;
  fail(what, ": expected true or compacted, got '", s, "'");
}

// One setting: its item key (and an alias), its shared flag, and how its text sets the config.
struct Setting {
  const char* key;
  const char* alias;  // "" = none
  const char* flag;
  const char* value;  // help: what the value is
  void (*set)(AttentionConfig* c, const std::string& what, const std::string& text);
  // The KV cache's element types: read by every policy, and by models without attention
  // policies too (BASED's window rings).
  bool cache_type = false;
};

const Setting kSettings[] = {
    {"W", "L", "--window", "N",
     [](AttentionConfig* c, const std::string& w, const std::string& t) {
       c->window = parse_int(w, t, 1, kMaxTokens);
     }},
    {"G", "S", "--sinks", "G",
     [](AttentionConfig* c, const std::string& w, const std::string& t) {
       c->sinks = parse_int(w, t, 0, kMaxTokens);
     }},
    {"D", "", "--ceiling", "D|none",
     [](AttentionConfig* c, const std::string& w, const std::string& t) {
       c->ceiling = parse_ceiling(w, t);
     }},
    {"K", "", "--topk", "K",
     [](AttentionConfig* c, const std::string& w, const std::string& t) {
       c->topk = parse_int(w, t, 0, kMaxTokens);
     }},
    {"H", "", "--topk-from-layer", "H",
     [](AttentionConfig* c, const std::string& w, const std::string& t) {
       c->topk_from_layer = parse_int(w, t, 0, 1 << 20);
     }},
    {"P", "", "--middle-pool", "P",
     [](AttentionConfig* c, const std::string& w, const std::string& t) {
       c->middle_pool = parse_int(w, t, 1, kMaxTokens);
     }},
    {"M", "", "--pool", "M",
     [](AttentionConfig* c, const std::string& w, const std::string& t) {
       c->trams_pool = parse_int(w, t, 1, kMaxTokens);
     }},
    {"R", "", "--recent", "R",
     [](AttentionConfig* c, const std::string& w, const std::string& t) {
       c->trams_recent = parse_int(w, t, 0, kMaxTokens);
     }},
    {"m", "", "--select", "m",
     [](AttentionConfig* c, const std::string& w, const std::string& t) {
       c->trams_select = parse_int(w, t, 0, kMaxTokens);
     }},
    {"score", "", "--trams-score", "paper|code",
     [](AttentionConfig* c, const std::string& w, const std::string& t) {
       c->trams_score = parse_score(w, t);
     }},
    {"dist", "", "--trams-distance", "true|compacted",
     [](AttentionConfig* c, const std::string& w, const std::string& t) {
       c->trams_compacted = parse_compacted(w, t);
     }},
    // The cache's element types: keys and values, or each.
    {"kv", "", "--kv-type", "f32|bf16|f16|q8_0|q4",
     [](AttentionConfig* c, const std::string& w, const std::string& t) {
       c->k_type = c->v_type = parse_kv_type(w, t);
     },
     true},
    {"kt", "", "--k-type", "T",
     [](AttentionConfig* c, const std::string& w, const std::string& t) {
       c->k_type = parse_kv_type(w, t);
     },
     true},
    {"vt", "", "--v-type", "T",
     [](AttentionConfig* c, const std::string& w, const std::string& t) {
       c->v_type = parse_kv_type(w, t);
     },
     true},
};

const Setting* setting_by_key(const std::string& key) {
  for (const Setting& s : kSettings)
    if (key == s.key || (*s.alias && key == s.alias)) return &s;
  return nullptr;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) return out;
    start = p + 1;
  }
}

std::string policy_names(const char* sep) {
  std::string names;
  for (const PolicyEntry& e : policy_table())
    names += (names.empty() ? "" : sep) + std::string(e.name);
  return names;
}

std::string all_keys() {
  std::string keys;
  for (const Setting& s : kSettings) {
    keys += (keys.empty() ? "" : ", ") + std::string(s.key);
    if (*s.alias) keys += std::string(", ") + s.alias;
  }
  return keys;
}

// Cross-setting rules: the top-k settings belong to lambda, the TRAMS selection to trams.
void check_applies(const std::string& what, const AttentionConfig& c) {
  if (c.topk > 0 && c.policy != AttnPolicy::Lambda)
    fail(what, ": --topk applies to lambda only (expected --attn lambda)");
  if (c.middle_pool > 0 && (c.policy != AttnPolicy::Lambda || c.topk == 0))
    fail(what, ": --middle-pool needs lambda with --topk K >= 1");
  const bool trams_set = c.trams_pool >= 0 || c.trams_recent >= 0 || c.trams_select >= 0;
  if (trams_set && c.policy != AttnPolicy::Trams)
    fail(what, ": --pool/--recent/--select apply to trams only (expected --attn trams)");
}

AttentionConfig parse_item(const std::string& item, const AttentionConfig& base,
                           bool explicit_attn) {
  const std::string what = "--attn item '" + item + "'";
  const std::vector<std::string> parts = split(item, ':');
  const PolicyEntry* entry = find_policy(parts[0]);
  if (!entry) fail("--attn: expected ", policy_names(", "), ", got '", parts[0], "'");
  AttentionConfig c = base;
  c.policy = entry->id;
  c.model_window = !explicit_attn;  // an explicit `--attn full` means full attention
  for (size_t i = 1; i < parts.size(); ++i) {
    const size_t eq = parts[i].find('=');
    if (eq == std::string::npos || eq == 0)
      fail(what, ": expected KEY=VALUE after ':', got '", parts[i], "'");
    const std::string key = parts[i].substr(0, eq), val = parts[i].substr(eq + 1);
    const Setting* s = setting_by_key(key);
    if (!s) fail(what, ": unknown key '", key, "' (expected ", all_keys(), ")");
    if (!policy_takes(*entry, key) && !s->cache_type)
      fail(what, ": key '", key, "' does not apply to ", entry->name, " (it reads ", entry->keys,
           ")");
    s->set(&c, what + " " + key, val);
  }
  check_applies(what, c);
  return c;
}

}  // namespace

const std::vector<std::string>& attention_setting_flags() {
  static const std::vector<std::string> flags = [] {
    std::vector<std::string> f;
    for (const Setting& s : kSettings) f.emplace_back(s.flag);
    return f;
  }();
  return flags;
}

bool cache_type_flag(const std::string& flag) {
  for (const Setting& s : kSettings)
    if (flag == s.flag) return s.cache_type;
  return false;
}

void apply_attention_flag(AttentionConfig* c, const std::string& flag, const std::string& value) {
  for (const Setting& s : kSettings)
    if (flag == s.flag) return s.set(c, flag, value);
  fail("attention: unknown flag '", flag, "'");
}

std::vector<AttentionConfig> parse_attention_list(const std::string& list,
                                                  const AttentionConfig& base, bool explicit_attn) {
  std::vector<AttentionConfig> out;
  for (const std::string& item : split(list, ','))
    out.push_back(parse_item(item, base, explicit_attn));
  return out;
}

AttentionConfig attention_defaults() {
  AttentionConfig c;
  c.k_type = c.v_type = DType::BF16;
  return c;
}

std::string attention_help() {
  // Words wrapped at 96 columns, continuation lines indented by `indent`.
  auto wrap = [](const std::string& first, const std::string& text, size_t indent) {
    std::string out = first, word;
    size_t col = first.size();
    for (size_t i = 0; i <= text.size(); ++i) {
      if (i < text.size() && text[i] != ' ') {
        word += text[i];
        continue;
      }
      if (word.empty()) continue;
      if (col + 1 + word.size() > 96 && col > indent) {
        out += "\n" + std::string(indent, ' ');
        col = indent;
      } else if (col > 0 && out.back() != ' ') {
        out += ' ';
        ++col;
      }
      out += word;
      col += word.size();
      word.clear();
    }
    return out + "\n";
  };
  std::string h =
      wrap("attention flags:",
           "--attn " + policy_names("|") +
               " (ppl/passkey: a comma-separated list, each item overriding settings by "
               "key, e.g. lambda:D=none, window:W=256, lambda:G=10:L=512:K=5:H=4:P=1024, "
               "trams:M=400:R=150:m=200, lambda:kv=q8_0)",
           17);
  for (const PolicyEntry& e : policy_table()) {
    const std::string name = e.name;
    h += wrap("  " + name + std::string(name.size() < 10 ? 10 - name.size() : 1, ' '),
              std::string(e.help) + " [keys: " + e.keys + "]", 12);
  }
  h += wrap("  (every)   ",
            "kv=T keys and values, kt=T keys, vt=T values: the KV cache's element types (" +
                std::string(kv_type_names()) + "; bf16 by default) [keys: kv kt vt]",
            12);
  std::string shared;
  for (const Setting& s : kSettings)
    shared += std::string(shared.empty() ? "" : " ") + s.flag + " " + s.value + " (" + s.key +
              (*s.alias ? std::string("/") + s.alias : std::string()) + ")";
  return h + wrap("  shared settings, every item's defaults:", shared, 4);
}

}  // namespace lc
