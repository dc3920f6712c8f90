#include "attention/policy_table.h"

#include "core/error.h"

namespace lc {

const std::vector<PolicyEntry>& policy_table() {
  static const std::vector<PolicyEntry> table = {
      {AttnPolicy::Full, "full",
       "every earlier token at its true distance; D=N clips distances above N (no Λ-mask)", "D",
       resolve_full},
      {AttnPolicy::Window, "window", "the last W tokens (default W = the trained context)", "W L",
       resolve_window},
      {AttnPolicy::Streaming, "streaming",
       "StreamingLLM: S sink tokens (4) + the last W cached, positions re-assigned in the cache",
       "S G W L", resolve_streaming},
      {AttnPolicy::Lambda, "lambda",
       "LM-Infinite: G starting tokens (10) at distance D (= L) + the last L (trained context);"
       " top-k middle tokens K from layer H (4), pool P by TRAMS score",
       "G S L W D K H P score", resolve_lambda},
      {AttnPolicy::Trams, "trams",
       "TRAMS: itself + the R recent (150) + the best m - R (m = 200) of a pool of M (400) by a "
       "query-free score (paper|code); dist=compacted re-spaces the selected keys",
       "M R m score dist", resolve_trams},
  };
  return table;
}

const PolicyEntry& policy_entry(AttnPolicy id) {
  for (const PolicyEntry& e : policy_table())
    if (e.id == id) return e;
  fail("attention: unknown policy id ", static_cast<int>(id));
}

const PolicyEntry* find_policy(std::string_view name) {
  for (const PolicyEntry& e : policy_table())
    if (name == e.name) return &e;
  return nullptr;
}

bool policy_takes(const PolicyEntry& entry, std::string_view key) {
  std::string_view keys = entry.keys;
  while (!keys.empty()) {
    const size_t sp = keys.find(' ');
    if (keys.substr(0, sp) == key) return true;
    if (sp == std::string_view::npos) break;
    keys.remove_prefix(sp + 1);
  }
  return false;
}

const char* policy_name(AttnPolicy p) { return policy_entry(p).name; }

}  // namespace lc
