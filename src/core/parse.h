// Strict number parsing for flags and text formats: the whole string must be a number in range.
// Errors name the flag and the offending text ("-n: expected an integer in [1, 1000000], got
// '12abc'").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lc {

int64_t parse_int(const std::string& what, const std::string& text, int64_t lo, int64_t hi);
double parse_float(const std::string& what, const std::string& text, double lo, double hi);
// Comma-separated integers, each in [lo, hi]; rejects empty lists and empty items.
std::vector<int64_t> parse_int_list(const std::string& what, const std::string& text, int64_t lo,
                                    int64_t hi);
// Comma-separated numbers, each in [lo, hi]; rejects empty lists and empty items.
std::vector<double> parse_float_list(const std::string& what, const std::string& text, double lo,
                                     double hi);

}  // namespace lc
