#include "attention_flags.h"

#include "attention/parse.h"
#include "core/error.h"

namespace lc::cli {

const std::string& attention_flags_help() {
  static const std::string help = attention_help();
  return help;
}

const std::vector<std::string>& attention_value_flags() {
  static const std::vector<std::string> flags = [] {
    std::vector<std::string> f = {"--attn"};
    for (const std::string& s : attention_setting_flags()) f.push_back(s);
    return f;
  }();
  return flags;
}

std::vector<AttentionConfig> parse_attention(const Args& a, bool allow_many) {
  AttentionConfig base = attention_defaults();
  for (const std::string& f : attention_setting_flags())
    if (a.has(f)) apply_attention_flag(&base, f, a.str(f));
  const std::string list = a.str("--attn", "full");
  std::vector<AttentionConfig> out = parse_attention_list(list, base, a.has("--attn"));
  if (!allow_many && out.size() > 1)
    fail("--attn: this command takes one configuration, got ", out.size(), " ('", list, "')");
  return out;
}

void refuse_attention_flags(const Args& a, const Model& model) {
  if (model.takes_attention_policy()) return;
  for (const auto& f : attention_value_flags())
    if (a.has(f) && !cache_type_flag(f))  // the cache types also set BASED's window rings
      fail(f, ": attention flags do not apply to this model (arch '",
           arch_name(model.config().arch),
           "': its attention and mixer layers are fixed by its config)");
}

}  // namespace lc::cli
