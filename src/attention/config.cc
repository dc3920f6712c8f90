#include "attention/config.h"

#include <sstream>

#include "attention/kv_types.h"

namespace lc {

const char* trams_score_name(TramsScore s) { return s == TramsScore::Code ? "code" : "paper"; }

std::string AttentionConfig::label() const {
  std::ostringstream os;
  os << policy_name(policy);
  auto num = [](int64_t v, const char* unset) {
    return v < 0 ? std::string(unset) : v == kNoCeiling ? std::string("none") : std::to_string(v);
  };
  switch (policy) {
    case AttnPolicy::Full:
      if (ceiling >= 0) os << "(D=" << num(ceiling, "") << ")";
      break;
    case AttnPolicy::Window:
      os << "(W=" << num(window ? window : -1, "ctx") << ")";
      break;
    case AttnPolicy::Streaming:
      os << "(S=" << num(sinks, "4") << ",W=" << num(window ? window : -1, "ctx") << ")";
      break;
    case AttnPolicy::Lambda:
      os << "(G=" << num(sinks, "10") << ",L=" << num(window ? window : -1, "ctx")
         << ",D=" << num(ceiling, "L") << ")";
      break;
    case AttnPolicy::Trams:
      os << "(M=" << num(trams_pool, "400") << ",R=" << num(trams_recent, "150")
         << ",m=" << num(trams_select, "200") << "," << trams_score_name(trams_score)
         << (trams_compacted ? ",compacted" : "") << ")";
      break;
  }
  if (topk > 0) os << "+top" << topk << "@" << topk_from_layer;
  if (topk > 0 && middle_pool > 0)
    os << "+pool" << middle_pool << "(" << trams_score_name(trams_score) << ")";
  return os.str() + kv_types_label(k_type, v_type);
}

std::string kv_types_label(DType k, DType v) {
  if (k == DType::F32 && v == DType::F32) return "";
  if (k == v) return std::string("+kv(") + kv_type_name(k) + ")";
  return std::string("+kv(k=") + kv_type_name(k) + ",v=" + kv_type_name(v) + ")";
}

}  // namespace lc
