#include "args.h"


#include <algorithm>

#include "core/error.h"
#include "core/parse.h"

namespace lc::cli {

Args::Args(const std::string& command, std::vector<std::string> value_flags,
           std::vector<std::string> switches, std::vector<std::string> repeatable)
    : command_(command),
      value_flags_(std::move(value_flags)),
      switches_(std::move(switches)),
      repeatable_(std::move(repeatable)) {}

void Args::parse(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    bool is_value = std::find(value_flags_.begin(), value_flags_.end(), a) != value_flags_.end();
    bool is_switch = std::find(switches_.begin(), switches_.end(), a) != switches_.end();
    if (!is_value && !is_switch)
      fail(command_, ": unknown argument '", a, "' (see 'longctx ", command_, " --help')");
    bool repeat_ok = std::find(repeatable_.begin(), repeatable_.end(), a) != repeatable_.end();
    if (values_.count(a) && !repeat_ok) fail(command_, ": ", a, " given more than once");
    if (is_switch) {
      values_[a] = "1";
      continue;
    }
    if (i + 1 >= argc) fail(command_, ": ", a, " needs a value");
    values_[a] = argv[++i];
    all_values_[a].push_back(values_[a]);
  }
}

std::vector<std::string> Args::all(const std::string& flag) const {
  auto it = all_values_.find(flag);
  return it == all_values_.end() ? std::vector<std::string>{} : it->second;
}

bool Args::has(const std::string& flag) const { return values_.count(flag) != 0; }

std::string Args::str(const std::string& flag, const std::string& def) const {
  auto it = values_.find(flag);
  return it == values_.end() ? def : it->second;
}

std::string Args::required(const std::string& flag) const {
  auto it = values_.find(flag);
  if (it == values_.end()) fail(command_, ": ", flag, " is required");
  return it->second;
}

int64_t Args::integer(const std::string& flag, int64_t def, int64_t lo, int64_t hi) const {
  auto it = values_.find(flag);
  return it == values_.end() ? def : parse_int(flag, it->second, lo, hi);
}

double Args::number(const std::string& flag, double def, double lo, double hi) const {
  auto it = values_.find(flag);
  return it == values_.end() ? def : parse_float(flag, it->second, lo, hi);
}

}  // namespace lc::cli
