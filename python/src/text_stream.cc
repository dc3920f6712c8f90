#include "text_stream.h"

namespace lc::py {

GenerationStream::GenerationStream(std::shared_ptr<LoadedModel> m, const SessionOptions& so,
                                   std::vector<int> prompt, const GenerateOptions& opt,
                                   std::vector<std::string> stop, std::vector<int> stop_ids)
    : m_(std::move(m)),
      session_(std::make_unique<Session>(*m_->model, so)),
      gen_(std::make_unique<TokenGenerator>(*session_, *m_->tok, std::move(prompt), opt)),
      text_(std::move(stop)),
      stop_ids_(std::move(stop_ids)),
      max_tokens_(opt.max_new_tokens) {}

bool GenerationStream::next(std::string* piece) {
  while (!ended_) {
    int id = 0;
    std::string text;
    bool more = gen_->next(&id, &text);
    if (more && std::find(stop_ids_.begin(), stop_ids_.end(), id) != stop_ids_.end()) {
      stopped_by_id_ = true;
      more = false;
    }
    if (!more) {
      ended_ = true;
      *piece = text_.flush();
      return !piece->empty();
    }
    tokens_.push_back(id);
    *piece = text_.push(text);
    if (text_.stopped()) ended_ = true;
    if (!piece->empty()) return true;
  }
  return false;
}

std::string GenerationStream::finish_reason() const {
  if (!ended_) return "";
  if (text_.stopped() || stopped_by_id_) return "stop";
  if (gen_->stats().hit_context_limit) return "context";
  return gen_->stats().n_generated >= max_tokens_ ? "length" : "stop";
}

}  // namespace lc::py
