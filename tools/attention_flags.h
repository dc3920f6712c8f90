// The attention flags shared by run, bench and the evaluation commands:
//   --attn full|window|streaming|lambda|trams   (eval commands: a comma-separated list, one
//                                          configuration each; items may override the shared
//                                          flags: lambda:D=none, full:D=512, window:W=256,
//                                          streaming:S=4:W=508, lambda:G=10:L=512:K=5:H=4:P=1024,
//                                          trams:M=400:R=150:m=200:score=code:dist=compacted)
//   --window N  --sinks G  --ceiling D|none  --topk K  --topk-from-layer H  --middle-pool P
//   --pool M  --recent R  --select m  --trams-score paper|code  --trams-distance true|compacted
#pragma once
#include <string>
#include <vector>

#include "args.h"
#include "attention/config.h"
#include "model/model.h"

namespace lc::cli {

// The help lines for these flags, shared by every command's --help.
inline constexpr const char* kAttentionFlagsHelp =
    "attention flags: --attn full|window|streaming|lambda|trams (ppl/passkey: a list; items\n"
    "                 override: lambda:D=none, window:W=256, lambda:G=10:L=512:K=5:H=4:P=1024,\n"
    "                 trams:M=400:R=150:m=200:score=code:dist=compacted)\n"
    "                 --window N --sinks G --ceiling D|none --topk K --topk-from-layer H\n"
    "                 --middle-pool P --pool M --recent R --select m --trams-score paper|code\n"
    "                 --trams-distance true|compacted\n";

// The flag names, for Args' declaration lists.
const std::vector<std::string>& attention_value_flags();

// Parses the flags; with allow_many == false a list of more than one configuration is an error.
// Throws lc::Error naming the flag or item on any malformed value.
std::vector<AttentionConfig> parse_attention(const Args& a, bool allow_many);

// Fails naming the first attention flag given when the model takes no attention policy (its
// mixers are fixed by its config, e.g. BASED).
void refuse_attention_flags(const Args& a, const Model& model);

}  // namespace lc::cli
