// Attention settings from text: the shared flags (--window N, --ceiling none, ...) and --attn
// lists of items "name[:KEY=VALUE...]" (lambda:D=none, trams:M=400:R=150:m=200). One settings
// table (parse.cc) gives every setting's item keys, flag, range and help; the policy table
// (policy_table.h) gives the names and which keys each policy reads. Errors are one line naming
// the flag or item and what was expected.
#pragma once
#include <string>
#include <vector>

#include "attention/config.h"

namespace lc {

// The shared flags, e.g. "--window", in table order ("--attn" not included).
const std::vector<std::string>& attention_setting_flags();
// Whether `flag` sets the KV cache's element types (--kv-type, --k-type, --v-type): those apply
// to every policy and to models without attention policies too.
bool cache_type_flag(const std::string& flag);
// Sets the field of `flag` (one of attention_setting_flags()) from its text value.
void apply_attention_flag(AttentionConfig* c, const std::string& flag, const std::string& value);
// A comma-separated --attn list, each item starting from `base` (the shared flags' values).
// explicit_attn: the list was given (an explicit `full` then means full attention even for a
// model trained with a sliding window). Item keys a policy does not read are errors, and so are
// --topk/--middle-pool off lambda and the TRAMS settings off trams.
std::vector<AttentionConfig> parse_attention_list(const std::string& list,
                                                  const AttentionConfig& base, bool explicit_attn);
// What the commands, the server and the Python API start from before their flags: bf16 keys and
// values (docs/results/kv_precision.md measures the cost: +0.01% NLL at 32K). AttentionConfig's
// own default stays f32, the cache the reference tests use.
AttentionConfig attention_defaults();
// The help text of the attention flags, generated from the two tables.
std::string attention_help();

}  // namespace lc
