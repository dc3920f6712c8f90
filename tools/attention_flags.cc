#include "attention_flags.h"

#include <cstdint>

#include "core/error.h"
#include "core/parse.h"

namespace lc::cli {

namespace {

constexpr int64_t kMaxTokens = int64_t{1} << 40;

AttnPolicy parse_policy(const std::string& what, const std::string& s) {
  if (s == "full") return AttnPolicy::Full;
  if (s == "window") return AttnPolicy::Window;
  if (s == "streaming") return AttnPolicy::Streaming;
  if (s == "lambda") return AttnPolicy::Lambda;
  if (s == "trams") return AttnPolicy::Trams;
  fail(what, ": expected full, window, streaming, lambda or trams, got '", s, "'");
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

int64_t parse_ceiling(const std::string& what, const std::string& s) {
  return s == "none" ? AttentionConfig::kNoCeiling : parse_int(what, s, 0, kMaxTokens);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) return out;
    start = p + 1;
  }
}

}  // namespace

const std::vector<std::string>& attention_value_flags() {
  static const std::vector<std::string> flags = {
      "--attn",        "--window", "--sinks",  "--ceiling", "--topk",        "--topk-from-layer",
      "--middle-pool", "--pool",   "--recent", "--select",  "--trams-score", "--trams-distance"};
  return flags;
}

std::vector<AttentionConfig> parse_attention(const Args& a, bool allow_many) {
  AttentionConfig base;
  base.window = a.integer("--window", 0, 1, kMaxTokens);
  base.sinks = a.integer("--sinks", -1, 0, kMaxTokens);
  if (a.has("--ceiling")) base.ceiling = parse_ceiling("--ceiling", a.str("--ceiling"));
  base.topk = a.integer("--topk", 0, 0, kMaxTokens);
  base.topk_from_layer = a.integer("--topk-from-layer", 4, 0, 1 << 20);
  base.middle_pool = a.integer("--middle-pool", 0, 1, kMaxTokens);
  base.trams_pool = a.integer("--pool", -1, 1, kMaxTokens);
  base.trams_recent = a.integer("--recent", -1, 0, kMaxTokens);
  base.trams_select = a.integer("--select", -1, 0, kMaxTokens);
  if (a.has("--trams-score"))
    base.trams_score = parse_score("--trams-score", a.str("--trams-score"));
  if (a.has("--trams-distance"))
    base.trams_compacted = parse_compacted("--trams-distance", a.str("--trams-distance"));

  std::vector<AttentionConfig> out;
  const std::string list = a.str("--attn", "full");
  for (const std::string& item : split(list, ',')) {
    const std::string what = "--attn item '" + item + "'";
    std::vector<std::string> parts = split(item, ':');
    AttentionConfig c = base;
    c.policy = parse_policy("--attn", parts[0]);
    c.model_window = !a.has("--attn");  // an explicit `--attn full` means full attention
    for (size_t i = 1; i < parts.size(); ++i) {
      size_t eq = parts[i].find('=');
      if (eq == std::string::npos || eq == 0)
        fail(what, ": expected KEY=VALUE after ':', got '", parts[i], "'");
      std::string key = parts[i].substr(0, eq), val = parts[i].substr(eq + 1);
      if (key == "W" || key == "L") c.window = parse_int(what + " " + key, val, 1, kMaxTokens);
      else if (key == "G" || key == "S") c.sinks = parse_int(what + " " + key, val, 0, kMaxTokens);
      else if (key == "D") c.ceiling = parse_ceiling(what + " D", val);
      else if (key == "K") c.topk = parse_int(what + " K", val, 0, kMaxTokens);
      else if (key == "H") c.topk_from_layer = parse_int(what + " H", val, 0, 1 << 20);
      else if (key == "P") c.middle_pool = parse_int(what + " P", val, 1, kMaxTokens);
      else if (key == "M") c.trams_pool = parse_int(what + " M", val, 1, kMaxTokens);
      else if (key == "R") c.trams_recent = parse_int(what + " R", val, 0, kMaxTokens);
      else if (key == "m") c.trams_select = parse_int(what + " m", val, 0, kMaxTokens);
      else if (key == "score") c.trams_score = parse_score(what + " score", val);
      else if (key == "dist") c.trams_compacted = parse_compacted(what + " dist", val);
      else
        fail(what, ": unknown key '", key,
             "' (expected W, L, G, S, D, K, H, P, M, R, m, score or dist)");
    }
    if (c.topk > 0 && c.policy != AttnPolicy::Lambda)
      fail(what, ": --topk applies to lambda only (expected --attn lambda)");
    if (c.middle_pool > 0 && (c.policy != AttnPolicy::Lambda || c.topk == 0))
      fail(what, ": --middle-pool needs lambda with --topk K >= 1");
    const bool trams_set = c.trams_pool >= 0 || c.trams_recent >= 0 || c.trams_select >= 0;
    if (trams_set && c.policy != AttnPolicy::Trams)
      fail(what, ": --pool/--recent/--select apply to trams only (expected --attn trams)");
    out.push_back(c);
  }
  if (!allow_many && out.size() > 1)
    fail("--attn: this command takes one configuration, got ", out.size(), " ('", list, "')");
  return out;
}

void refuse_attention_flags(const Args& a, const Model& model) {
  if (model.takes_attention_policy()) return;
  for (const auto& f : attention_value_flags())
    if (a.has(f))
      fail(f, ": attention flags do not apply to this model (arch '", model.config().arch,
           "': its attention and mixer layers are fixed by its config)");
}

}  // namespace lc::cli
