// The passkey answer (eval/passkey.h): generated until its first integer is complete, within a
// budget that grows with the tokens the key takes. With the spec's flat 7 tokens, a tokenizer
// that writes one digit per token (SmolLM2's: a space and 7 digits are 8 tokens) had every answer
// cut to the key's first 6 digits and scored wrong. Checked with that tokenizer (the real
// SmolLM2 file's, skipped without the asset) and on the real model at 1K and 2K tokens.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attention/config.h"
#include "chat/chat_template_source.h"
#include "eval/passkey.h"
#include "formats/model_file.h"
#include "model/registry.h"
#include "test_util.h"
#include "tokenizer/discover.h"

namespace lc {
namespace {

const char* kModel = "real_models/SmolLM2-135M-Instruct.Q4_1.gguf";

TEST(PasskeyAnswer, FirstIntegerCompleteNeedsACharacterAfterTheDigits) {
  EXPECT_FALSE(first_integer_complete(""));
  EXPECT_FALSE(first_integer_complete(" The pass key is"));
  EXPECT_FALSE(first_integer_complete(" 724751"));
  EXPECT_TRUE(first_integer_complete(" 7247516."));
  EXPECT_TRUE(first_integer_complete("7 "));
  EXPECT_TRUE(first_integer_complete("is 12, and 3"));
}

TEST(PasskeyAnswer, BudgetGrowsWithTheKeysTokens) {
  EXPECT_EQ(passkey_answer_budget(7, 1), 7);  // a key of one token: the spec's 7
  EXPECT_EQ(passkey_answer_budget(7, 0), 7);
  EXPECT_EQ(passkey_answer_budget(7, 8), 14);  // " " + 7 digits, one token each
}

// A scripted "model" that answers with the tokens of `reply` under a digit-per-token tokenizer.
TEST(PasskeyAnswer, DigitPerTokenAnswerIsWholeAndStopsAfterTheNumber) {
  const std::string path = test::asset(kModel);
  LC_REQUIRE_ASSET(path);
  auto file = load_model_file(path);
  auto tok = load_tokenizer_for_model("", *file);
  const uint64_t key = 7247516;
  const std::vector<int> key_ids = tok->encode(" " + std::to_string(key), false);
  ASSERT_EQ(key_ids.size(), 8u) << "SmolLM2's tokenizer writes one digit per token";
  const std::vector<int> reply = tok->encode(" 7247516. Remember it.", false);
  const int prev = tok->encode("The pass key is", false).back();
  int64_t asked = 0;
  auto next = [&](int64_t g) {
    asked = g + 1;
    return reply.at(static_cast<size_t>(g));
  };
  // The old flat budget of 7 tokens: the key's first 6 digits, scored wrong.
  const std::string cut = passkey_answer(*tok, prev, 7, next);
  EXPECT_EQ(cut, " 724751");
  EXPECT_FALSE(passkey_answer_correct(cut, key));
  // The budget from the key's tokens: the whole key, and nothing generated past the period.
  const std::string whole = passkey_answer(
      *tok, prev, passkey_answer_budget(7, static_cast<int64_t>(key_ids.size())), next);
  EXPECT_EQ(whole, " 7247516.");
  EXPECT_EQ(asked, 9);
  EXPECT_TRUE(passkey_answer_correct(whole, key));
  // EOS ends the answer at once.
  const std::string none = passkey_answer(*tok, prev, 14, [&](int64_t) { return tok->eos_id(); });
  EXPECT_EQ(none, "");
}

// An instruct model's prompt: one user turn through the file's template, the assistant's turn
// begun with "The pass key is"; the length search counts the template's tokens.
TEST(PasskeyAnswer, ChatFramingIsOneUserTurnAndBeginsTheAnswer) {
  const std::string path = test::asset(kModel);
  LC_REQUIRE_ASSET(path);
  auto file = load_model_file(path);
  auto tok = load_tokenizer_for_model("", *file);
  const auto chat = chat_template_for_model(*file);
  ASSERT_TRUE(chat.has_value());
  const std::string body = passkey_text(2, 1, 4242);
  const std::string text = passkey_chat_text(*chat, body);
  const std::string user = body.substr(0, body.size() - std::string(" The pass key is").size());
  EXPECT_EQ(text,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n<|im_start|>user\n" +
                user + "<|im_end|>\n<|im_start|>assistant\nThe pass key is");
  const PasskeyPrompt p = build_passkey_prompt(*tok, 300, 4242, 0.5, &*chat);
  EXPECT_LE(static_cast<int64_t>(p.tokens.size()), 300);
  EXPECT_EQ(p.tokens, passkey_encode(*tok, p.text, &*chat));
  EncodeOptions special;
  special.parse_special = true;
  const std::vector<int> start = tok->encode("<|im_start|>", special);
  ASSERT_EQ(start.size(), 1u);
  EXPECT_EQ(p.tokens.front(), start[0]) << "the template's special tokens are single tokens";
  // One more filler would not fit.
  const PasskeyPrompt more = build_passkey_prompt(*tok, 300 + 40, 4242, 0.5, &*chat);
  EXPECT_GT(more.n_fillers, p.n_fillers);
}

// The real model inside its trained context, full attention: every answer whole and right.
TEST(PasskeyAnswer, SmolLM2RetrievesTheWholeKeyAt1KAnd2K) {
  const std::string path = test::asset(kModel);
  LC_REQUIRE_ASSET(path);
  auto file = load_model_file(path);
  auto model = make_model(*file);
  auto tok = load_tokenizer_for_model("", *file);
  PasskeyOptions opt;
#if defined(__SANITIZE_ADDRESS__)
  opt.lengths = {1024};  // several times slower there; the mechanics are the same
#else
  opt.lengths = {1024, 2048};
#endif
  opt.samples = 1;
  AttentionConfig attn;  // full
  const PasskeyResult r = run_passkey(*model, *tok, attn, opt);
  ASSERT_EQ(r.samples.size(), opt.lengths.size());
  for (const PasskeySample& s : r.samples) {
    EXPECT_TRUE(s.correct) << "key " << s.key << " answer '" << s.output << "' at " << s.target_len;
    EXPECT_EQ(s.key_tokens, static_cast<int64_t>(std::to_string(s.key).size()) + 1);
    EXPECT_LE(s.answer_tokens, passkey_answer_budget(opt.max_new_tokens, s.key_tokens));
  }
}

}  // namespace
}  // namespace lc
