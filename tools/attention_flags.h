// The attention flags shared by run, bench and the evaluation commands (--attn and the shared
// settings); names, parsing and help come from src/attention (parse.h, policy_table.h).
#pragma once
#include <string>
#include <vector>

#include "args.h"
#include "attention/config.h"
#include "model/model.h"

namespace lc::cli {

// The help lines for these flags, shared by every command's --help.
const std::string& attention_flags_help();

// The flag names, for Args' declaration lists.
const std::vector<std::string>& attention_value_flags();

// Parses the flags; with allow_many == false a list of more than one configuration is an error.
// Throws lc::Error naming the flag or item on any malformed value.
std::vector<AttentionConfig> parse_attention(const Args& a, bool allow_many);

// Fails naming the first attention flag given when the model takes no attention policy (its
// mixers are fixed by its config, e.g. BASED).
void refuse_attention_flags(const Args& a, const Model& model);

}  // namespace lc::cli
