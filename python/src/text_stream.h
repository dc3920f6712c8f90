// Model.generate's iterator: a Session of its own, the library's TokenGenerator (the same loop as
// `longctx run`) and the server's TextStream (stop strings, UTF-8 hold-back). Each __next__
// computes with the GIL released and returns the next piece of text that is safe to hand out.
#pragma once
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "py_model.h"
#include "runtime/generate.h"
#include "server/text_stream.h"

namespace lc::py {

class GenerationStream {
 public:
  // stop_ids: tokens that end generation without being emitted (a chat's end-of-turn).
  GenerationStream(std::shared_ptr<LoadedModel> m, const SessionOptions& so,
                   std::vector<int> prompt, const GenerateOptions& opt,
                   std::vector<std::string> stop, std::vector<int> stop_ids = {});
  // The next non-empty piece; false at the end.
  bool next(std::string* piece);
  const GenerateStats& stats() const { return gen_->stats(); }
  // Why generation ended: "" while running, then "stop" (end token or stop string), "length"
  // (max_tokens) or "context" (a full cache's limit).
  std::string finish_reason() const;
  const std::vector<int>& tokens() const { return tokens_; }

 private:
  std::shared_ptr<LoadedModel> m_;
  std::unique_ptr<Session> session_;
  std::unique_ptr<TokenGenerator> gen_;
  server::TextStream text_;
  std::vector<int> stop_ids_;
  bool stopped_by_id_ = false;
  std::vector<int> tokens_;  // generated ids
  int64_t max_tokens_;
  bool ended_ = false;
};

}  // namespace lc::py
