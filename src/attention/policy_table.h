// The attention policies, one entry each (docs/design.md, "Adding a policy"): the name --attn
// takes, its help line, the item settings it reads, and the function that resolves a config's
// defaults into a policy object (defined in the policy's own file). Flag parsing, help text,
// policy names and make_policy() are all driven by this table (policy_table.cc) and the
// settings table (attention/parse.h).
#pragma once
#include <memory>
#include <string_view>
#include <vector>

#include "attention/config.h"
#include "attention/policy.h"

namespace lc {

struct PolicyEntry {
  AttnPolicy id;
  const char* name;
  const char* help;  // one line: what it attends to, its settings and defaults
  const char* keys;  // item keys it reads, space-separated (attention/parse.h)
  std::unique_ptr<AttentionPolicy> (*resolve)(const AttentionConfig& c, const PolicyContext& pc);
};

const std::vector<PolicyEntry>& policy_table();
const PolicyEntry& policy_entry(AttnPolicy id);
// nullptr when no policy has that name.
const PolicyEntry* find_policy(std::string_view name);
// Whether `entry` reads item key `key`.
bool policy_takes(const PolicyEntry& entry, std::string_view key);

// The resolvers, each in its policy's file (full.cc, window.cc, streaming.cc, lambda.cc,
// trams.cc); `window` below is c.window or the trained context.
std::unique_ptr<AttentionPolicy> resolve_full(const AttentionConfig& c, const PolicyContext& pc);
std::unique_ptr<AttentionPolicy> resolve_window(const AttentionConfig& c, const PolicyContext& pc);
std::unique_ptr<AttentionPolicy> resolve_streaming(const AttentionConfig& c,
                                                   const PolicyContext& pc);
std::unique_ptr<AttentionPolicy> resolve_lambda(const AttentionConfig& c, const PolicyContext& pc);
std::unique_ptr<AttentionPolicy> resolve_trams(const AttentionConfig& c, const PolicyContext& pc);

}  // namespace lc
