#include "args.h"

#include <CLI/CLI.hpp>
#include <algorithm>

#include "core/error.h"
#include "core/parse.h"

namespace lc::cli {

namespace {

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

Args::Args(const std::string& command, std::vector<std::string> value_flags,
           std::vector<std::string> switches, std::vector<std::string> repeatable)
    : command_(command),
      value_flags_(std::move(value_flags)),
      switches_(std::move(switches)),
      repeatable_(std::move(repeatable)) {}

void Args::parse(int argc, char** argv, int first) {
  const std::string see_help = " (see 'longctx " + command_ + " --help')";
  CLI::App app(command_);
  app.set_help_flag();  // each command declares --help itself and prints its own usage
  app.allow_extras();   // unknown arguments are reported below, in order, with the hint
  // Every occurrence is kept: repeats of non-repeatable flags are reported below by name.
  std::map<std::string, CLI::Option*> options;
  for (const std::string& f : value_flags_)
    options[f] = app.add_option(f)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  for (const std::string& s : switches_)
    options[s] = app.add_flag(s)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);

  std::vector<std::string> args;
  for (int i = argc - 1; i >= first; --i) args.emplace_back(argv[i]);  // CLI11 pops from the back
  const std::string last = argc > first ? argv[argc - 1] : "";
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    // A value flag as the very last argument: CLI11 ran out of arguments for it.
    if (args.empty() && dynamic_cast<const CLI::ArgumentMismatch*>(&e) &&
        contains(value_flags_, last))
      fail(command_, ": ", last, " needs a value");
    fail(command_, ": ", e.what(), see_help);
  }
  const std::vector<std::string> unknown = app.remaining();
  if (!unknown.empty()) fail(command_, ": unknown argument '", unknown.front(), "'", see_help);

  for (const auto& [flag, opt] : options) {
    if (opt->count() == 0) continue;
    if (opt->count() > 1 && !contains(repeatable_, flag))
      fail(command_, ": ", flag, " given more than once");
    if (contains(switches_, flag)) {
      // A bare switch reads as "true"; "--verbose=false" is refused rather than read as "off".
      if (opt->results().back() != "true") fail(command_, ": ", flag, " takes no value");
      values_[flag] = "1";
      continue;
    }
    all_values_[flag] = opt->results();
    values_[flag] = opt->results().back();
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
