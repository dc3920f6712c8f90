// The policy table and the settings parser (src/attention/policy_table.h, parse.h): every policy
// is reachable by name, every key a policy lists is a real setting, items set exactly the fields
// they name, and keys a policy does not read are refused by name.
#include <gtest/gtest.h>

#include <string>

#include "attention/parse.h"
#include "attention/policy_table.h"
#include "core/error.h"

namespace lc {
namespace {

std::string error_of(const std::string& list, const AttentionConfig& base = {}) {
  try {
    parse_attention_list(list, base, true);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(PolicyTable, EveryEntryIsFoundByNameAndResolves) {
  PolicyContext pc;
  pc.trained_ctx = 64;
  pc.ctx = 64;
  pc.block_tokens = 4;
  for (const PolicyEntry& e : policy_table()) {
    ASSERT_EQ(find_policy(e.name), &e);
    EXPECT_EQ(&policy_entry(e.id), &e);
    EXPECT_STREQ(policy_name(e.id), e.name);
    const std::vector<AttentionConfig> c = parse_attention_list(e.name, {}, true);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].policy, e.id);
    auto p = make_policy(c[0], pc);
    ASSERT_NE(p, nullptr);
    // Every key the entry lists is a real setting: an item with it parses (values in range).
    std::string keys = e.keys;
    for (size_t at = 0; at < keys.size();) {
      const size_t sp = keys.find(' ', at);
      const std::string k = keys.substr(at, sp == std::string::npos ? std::string::npos : sp - at);
      const std::string v = k == "score" ? "code" : k == "dist" ? "compacted" : "2";
      AttentionConfig base;
      if (k == "P") base.topk = 1;  // the pool needs top-k
      EXPECT_EQ(error_of(std::string(e.name) + ":" + k + "=" + v, base), "") << e.name << " " << k;
      at = sp == std::string::npos ? keys.size() : sp + 1;
    }
  }
  EXPECT_EQ(find_policy("Lambda"), nullptr);
}

TEST(AttentionParse, ItemsSetTheFieldsTheyName) {
  AttentionConfig base;
  apply_attention_flag(&base, "--window", "300");
  apply_attention_flag(&base, "--ceiling", "none");
  const auto c = parse_attention_list(
      "full,lambda:G=7:D=40:K=3:H=1:P=9,trams:M=50:R=10:m=20:"
      "score=code:dist=compacted,streaming:S=2",
      base, true);
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].policy, AttnPolicy::Full);
  EXPECT_EQ(c[0].ceiling, AttentionConfig::kNoCeiling);
  EXPECT_FALSE(c[0].model_window);
  EXPECT_EQ(c[1].sinks, 7);
  EXPECT_EQ(c[1].ceiling, 40);
  EXPECT_EQ(c[1].window, 300);
  EXPECT_EQ(c[1].topk, 3);
  EXPECT_EQ(c[1].topk_from_layer, 1);
  EXPECT_EQ(c[1].middle_pool, 9);
  EXPECT_EQ(c[2].trams_pool, 50);
  EXPECT_EQ(c[2].trams_recent, 10);
  EXPECT_EQ(c[2].trams_select, 20);
  EXPECT_EQ(c[2].trams_score, TramsScore::Code);
  EXPECT_TRUE(c[2].trams_compacted);
  EXPECT_EQ(c[3].sinks, 2);
  EXPECT_TRUE(parse_attention_list("full", {}, false)[0].model_window);
}

TEST(AttentionParse, RefusesWhatAPolicyDoesNotRead) {
  EXPECT_NE(error_of("window:D=4").find("key 'D' does not apply to window"), std::string::npos);
  EXPECT_NE(error_of("full:K=2").find("does not apply to full"), std::string::npos);
  EXPECT_NE(error_of("lambda:Q=2").find("unknown key 'Q'"), std::string::npos);
  EXPECT_NE(error_of("lambda:D").find("expected KEY=VALUE"), std::string::npos);
  EXPECT_NE(error_of("nope").find("got 'nope'"), std::string::npos);
  EXPECT_NE(error_of("lambda:W=0").find("W"), std::string::npos);
  EXPECT_NE(error_of("lambda:D=1x").find("D"), std::string::npos);
  AttentionConfig topk;
  topk.topk = 2;
  EXPECT_NE(error_of("window", topk).find("--topk applies to lambda only"), std::string::npos);
  EXPECT_NE(error_of("lambda:P=5").find("--middle-pool needs lambda"), std::string::npos);
  AttentionConfig pool;
  pool.trams_pool = 10;
  EXPECT_NE(error_of("lambda", pool).find("apply to trams only"), std::string::npos);
  AttentionConfig c;
  EXPECT_THROW(apply_attention_flag(&c, "--bogus", "1"), Error);
  EXPECT_THROW(apply_attention_flag(&c, "--trams-score", "best"), Error);
}

TEST(AttentionParse, HelpNamesEveryPolicyAndFlag) {
  const std::string h = attention_help();
  for (const PolicyEntry& e : policy_table()) EXPECT_NE(h.find(e.name), std::string::npos);
  for (const std::string& f : attention_setting_flags()) EXPECT_NE(h.find(f), std::string::npos);
  size_t start = 0;
  while (start < h.size()) {  // wrapped for a terminal
    const size_t nl = h.find('\n', start);
    EXPECT_LE(nl - start, 100u) << h.substr(start, nl - start);
    start = nl + 1;
  }
}

}  // namespace
}  // namespace lc
