#include "eval/mqar_engine.h"

#include "core/error.h"
#include "model/registry.h"
#include "runtime/session.h"

namespace lc {

std::vector<double> mqar_engine_accuracy(const ModelFile& file,
                                         const std::vector<std::vector<MqarExample>>& test_sets,
                                         int threads) {
  const auto model = make_model(file);
  SessionOptions so;
  so.n_threads = threads;
  Session session(*model, so);
  const int64_t vocab = session.vocab_size();
  std::vector<double> acc;
  std::vector<float> logits;  // [T, vocab]
  for (const std::vector<MqarExample>& set : test_sets) {
    check(!set.empty(), "mqar: an empty test set");
    double sum = 0;
    for (const MqarExample& e : set) {
      const int64_t T = static_cast<int64_t>(e.tokens.size());
      logits.resize(static_cast<size_t>(T * vocab));
      session.all_logits(e.tokens.data(), T, logits.data());
      sum += mqar_accuracy(e, logits.data(), vocab);
    }
    acc.push_back(sum / static_cast<double>(set.size()));
  }
  return acc;
}

}  // namespace lc
