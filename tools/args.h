// Command-line parsing for the subcommands, on CLI11: flags are declared up front, unknown flags
// and missing values are errors, numbers are parsed strictly (core/parse.h). A value may also be
// given as --flag=VALUE or -fVALUE.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lc::cli {

class Args {
 public:
  // spec: flag names that take a value (e.g. "-m", "--temp") and boolean switches.
  // repeatable: value flags that may be given more than once (read them with all()).
  Args(const std::string& command, std::vector<std::string> value_flags,
       std::vector<std::string> switches, std::vector<std::string> repeatable = {});
  // Throws lc::Error on unknown flags, missing values or repeated flags (unless repeatable).
  void parse(int argc, char** argv, int first);

  bool has(const std::string& flag) const;
  std::string str(const std::string& flag, const std::string& def = "") const;
  std::string required(const std::string& flag) const;
  int64_t integer(const std::string& flag, int64_t def, int64_t lo, int64_t hi) const;
  double number(const std::string& flag, double def, double lo, double hi) const;
  // Every value of a flag in command-line order (empty when absent); str() gives the last.
  std::vector<std::string> all(const std::string& flag) const;

 private:
  std::string command_;
  std::vector<std::string> value_flags_, switches_, repeatable_;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::vector<std::string>> all_values_;
};

}  // namespace lc::cli
