// Strict list parsing (src/core/parse.h): every item must be a number in range, empty lists and
// empty items are errors naming the flag.
#include "core/parse.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"

namespace lc {
namespace {

TEST(ParseList, IntegersAndNumbers) {
  EXPECT_EQ(parse_int_list("-n", "1,20,3", 1, 100), (std::vector<int64_t>{1, 20, 3}));
  EXPECT_EQ(parse_float_list("--lr", "3.2e-3,1e-2", 1e-8, 10.0),
            (std::vector<double>{3.2e-3, 1e-2}));
  EXPECT_EQ(parse_float_list("--lr", "0.5", 0.0, 1.0), (std::vector<double>{0.5}));
  for (const char* bad : {"", "1e-3,", ",1e-3", "1e-3,abc", "1e-3,,2e-3", "20", "1e-3;2e-3"}) {
    try {
      parse_float_list("--lr", bad, 1e-8, 10.0);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("--lr", 0), 0u) << e.what();
    }
  }
  EXPECT_THROW(parse_int_list("-n", "1,2x", 1, 100), Error);
  EXPECT_THROW(parse_int_list("-n", "", 1, 100), Error);
}

}  // namespace
}  // namespace lc
