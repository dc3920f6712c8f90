#include "runtime/chat_session.h"

#include <algorithm>

#include "core/error.h"
#include "core/timer.h"

namespace lc {

namespace {

// End-of-turn markers of the common template families (ChatML, Llama 3, Gemma, Phi-3, GPT-2
// style). A marker stops a reply only when the vocabulary has it as one special token.
const char* const kEndOfTurn[] = {"<|im_end|>", "<|eot_id|>",    "<end_of_turn>",
                                  "<|end|>",    "<|endoftext|>", "<|eom_id|>"};

}  // namespace

std::vector<int> chat_stop_ids(const Tokenizer& tok) {
  std::vector<int> ids;
  if (tok.eos_id() >= 0) ids.push_back(tok.eos_id());
  EncodeOptions special, plain;
  special.parse_special = true;
  for (const char* m : kEndOfTurn) {
    const std::vector<int> s = tok.encode(m, special);
    if (s.size() == 1 && tok.encode(m, plain).size() > 1 &&
        std::find(ids.begin(), ids.end(), s[0]) == ids.end())
      ids.push_back(s[0]);
  }
  return ids;
}

std::vector<int> encode_chat_prompt(const Tokenizer& tok, const std::string& text,
                                    const std::string& bos_token) {
  EncodeOptions o;
  o.parse_special = true;
  o.add_bos = tok.adds_bos() && !(bos_token.size() && text.rfind(bos_token, 0) == 0);
  return tok.encode(text, o);
}

ChatSession::ChatSession(Session& session, const Tokenizer& tok, const ChatTemplateSource& tmpl,
                         const ChatOptions& opt)
    : session_(session),
      tok_(tok),
      source_(tmpl),
      tmpl_(jinja::Template::parse(tmpl.source)),
      opt_(opt) {
  render_.bos_token = tmpl.bos_token;
  render_.eos_token = tmpl.eos_token;
  stop_ids_ = chat_stop_ids(tok);
  reset();
}

void ChatSession::reset() {
  messages_.clear();
  if (!opt_.system.empty()) messages_.push_back({"system", opt_.system});
  session_.reset();
  fed_text_.clear();
  last_token_ = -1;
}

bool ChatSession::is_stop(int id) const {
  return std::find(stop_ids_.begin(), stop_ids_.end(), id) != stop_ids_.end();
}

// Special tokens in the rendered text (<|im_start|>, <start_of_turn>, a BOS the template prints)
// are those tokens. BOS is added only at the start, where the file asks for it and the template
// did not print it already.
std::vector<int> ChatSession::encode_new(const std::string& text, bool first) const {
  if (first) return encode_chat_prompt(tok_, text, render_.bos_token);
  EncodeOptions o;
  o.parse_special = true;
  return tok_.encode(text, o);
}

ChatTurn ChatSession::turn(const std::string& user,
                           const std::function<void(const std::string&)>& on_text) {
  ChatTurn t;
  messages_.push_back({"user", user});
  render_.add_generation_prompt = true;
  std::string text;
  try {
    text = render_chat(tmpl_, messages_, render_);
  } catch (...) {
    messages_.pop_back();  // e.g. raise_exception on a role order the template refuses
    throw;
  }
  // Only the new text is fed, unless the template changed what it printed before.
  const bool extends = text.compare(0, fed_text_.size(), fed_text_) == 0;
  std::vector<int> ids =
      encode_new(extends ? text.substr(fed_text_.size()) : text, !extends || fed_text_.empty());
  const int64_t start = extends ? session_.pos() : 0;
  if (start + static_cast<int64_t>(ids.size()) + 1 > session_.capacity()) {
    messages_.pop_back();
    t.context_full = true;
    return t;
  }
  if (!extends) {
    session_.reset();
    t.refed = true;
  }
  if (ids.empty()) ids.push_back(last_token_ >= 0 ? last_token_ : tok_.bos_id());
  t.fed_tokens = static_cast<int64_t>(ids.size());
  const int64_t vocab = std::min<int64_t>(tok_.vocab_size(), session_.vocab_size());
  SamplerOptions so = opt_.sampler;
  so.seed += turns_++;
  Sampler sampler(vocab, so);

  double t0 = now_seconds();
  const float* logits = session_.prefill(ids.data(), static_cast<int64_t>(ids.size()));
  double t1 = now_seconds();
  t.prefill_seconds = t1 - t0;
  int prev = ids.back();
  std::string stop_text;
  for (int64_t i = 0; i < opt_.max_reply_tokens; ++i) {
    const int next = sampler.sample(logits, vocab);
    ++t.reply_tokens;
    const bool stop = is_stop(next);
    if (stop) {
      stop_text = tok_.decode(prev, next, /*special=*/true);
      t.ended = true;
    } else {
      const std::string piece = tok_.decode(prev, next);
      t.reply += piece;
      on_text(piece);
    }
    // The token goes into the cache (an end-of-turn token too: the next turn follows it).
    if (session_.pos() >= session_.capacity()) {
      t.context_full = true;
      --t.reply_tokens;
      break;
    }
    logits = session_.decode(next);
    prev = next;
    if (stop) break;
  }
  t.decode_seconds = now_seconds() - t1;
  last_token_ = prev;
  fed_text_ = text + t.reply + stop_text;
  messages_.push_back({"assistant", t.reply});
  return t;
}

}  // namespace lc
