// A multi-turn conversation over one Session: the messages are rendered through the model's
// chat template every turn, and only the text that is new since the last turn is tokenized and
// fed -- the session's cache (under any attention policy) already holds everything before it.
// With a bounded policy (lambda, streaming) the conversation never runs out of context: the
// cache keeps its sink tokens (the start of the conversation) and the window of recent turns.
// With `full` a turn that would pass the session's capacity is refused before anything is fed.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "chat/chat_format.h"
#include "chat/chat_template_source.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

namespace lc {

struct ChatOptions {
  std::string system;              // system message ("" = none; the template may add its own)
  int64_t max_reply_tokens = 512;  // a reply stops here if no end-of-turn token came first
  SamplerOptions sampler;
};

struct ChatTurn {
  std::string reply;
  int64_t fed_tokens = 0;    // tokens of the turn's new text (prompt side) fed to the session
  int64_t reply_tokens = 0;  // tokens generated (the end-of-turn token included when it came)
  double prefill_seconds = 0, decode_seconds = 0;
  bool ended = false;         // an end-of-turn / end-of-sequence token closed the reply
  bool context_full = false;  // refused or cut: the session's capacity (full attention) is reached
  bool refed = false;  // the template re-rendered earlier text: the conversation was fed again
};

// Token ids that end a reply: EOS and the end-of-turn markers of the common template families
// (ChatML, Llama 3, Gemma, Phi-3, GPT-2 style) that the vocabulary has as single special tokens.
std::vector<int> chat_stop_ids(const Tokenizer& tok);
// A rendered chat prompt as token ids: special-token texts are those tokens; BOS is prepended
// when the file asks for it and the text does not already start with bos_token.
std::vector<int> encode_chat_prompt(const Tokenizer& tok, const std::string& text,
                                    const std::string& bos_token);

class ChatSession {
 public:
  // Fails (one line) when the template does not parse.
  ChatSession(Session& session, const Tokenizer& tok, const ChatTemplateSource& tmpl,
              const ChatOptions& opt);
  // One user message and the model's reply, streamed through on_text as it is generated.
  ChatTurn turn(const std::string& user, const std::function<void(const std::string&)>& on_text);
  // Forgets the conversation (the system message stays) and empties the session.
  void reset();
  const std::vector<ChatMessage>& messages() const { return messages_; }
  // Token ids that end a reply: EOS and the template family's end-of-turn tokens.
  const std::vector<int>& stop_ids() const { return stop_ids_; }
  int64_t context_tokens() const { return session_.pos(); }

 private:
  std::vector<int> encode_new(const std::string& text, bool first) const;
  bool is_stop(int id) const;

  Session& session_;
  const Tokenizer& tok_;
  ChatTemplateSource source_;
  jinja::Template tmpl_;
  ChatOptions opt_;
  ChatRenderOptions render_;
  std::vector<ChatMessage> messages_;
  std::vector<int> stop_ids_;
  std::string fed_text_;  // the rendered conversation the session holds, as text
  int last_token_ = -1;   // the last token fed (for detokenization of the next)
  uint64_t turns_ = 0;    // sampler seed offset: replies differ across turns
};

}  // namespace lc
