// The training loop: batches from a BatchSource, forward + backward (train/model.h), an AdamW
// step (train/optim.h), and a per-step report. The batch sources: byte-level text and the MQAR
// task (data/mqar.h).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/rng.h"
#include "data/mqar.h"
#include "train/model.h"
#include "train/optim.h"

namespace lc::train {

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Fills tokens and labels ([batch * seq] each; labels may be kIgnoreLabel).
  virtual void next(int64_t batch, int64_t seq, int* tokens, int* labels) = 0;
};

// Byte-level language modelling: vocabulary 256 bytes + BOS (id 256). Each row is BOS followed by
// seq - 1 bytes of a window at a seeded random offset; label t is the token after position t.
class ByteBatches final : public BatchSource {
 public:
  static constexpr int kBos = 256;
  static constexpr int64_t kVocab = 257;
  ByteBatches(std::string data, uint64_t seed);
  void next(int64_t batch, int64_t seq, int* tokens, int* labels) override;

 private:
  std::string data_;
  uint64_t state_;
};

// MQAR examples (data/mqar.h) drawn fresh from one seeded generator, one per row; unscored
// positions get kIgnoreLabel. seq must equal the spec's seq_len.
class MqarBatches final : public BatchSource {
 public:
  MqarBatches(const MqarSpec& spec, uint64_t seed);
  void next(int64_t batch, int64_t seq, int* tokens, int* labels) override;

 private:
  MqarSpec spec_;
  Rng rng_;
};

// `batch` MQAR examples drawn from rng into tokens and labels ([batch * spec.seq_len] each; labels
// kIgnoreLabel where the example has kMqarIgnore).
void mqar_batch(const MqarSpec& spec, Rng& rng, int64_t batch, int* tokens, int* labels);

// A fixed held-out set for validation loss: consecutive non-overlapping windows of the text
// (BOS + seq - 1 bytes each, labels as ByteBatches), at most max_batches batches of `batch` rows.
class ByteValidation {
 public:
  ByteValidation(const std::string& text, int64_t batch, int64_t seq, int64_t max_batches);
  int64_t batches() const { return static_cast<int64_t>(tokens_.size()) / (batch_ * seq_); }
  // Mean cross-entropy (nats per byte) of `model` over every window; 0 when there are none.
  double loss(ThreadPool& pool, TrainModel<float>& model) const;

 private:
  int64_t batch_, seq_;
  std::vector<int> tokens_, labels_;
};

// Splits each document into (head, tail): the last `frac` of every document (cut at a byte)
// goes to *held_out, the rest to *train; documents are joined with "\n\n".
void split_documents(const std::vector<std::string>& docs, double frac, std::string* train,
                     std::string* held_out);

struct StepStats {
  int64_t step = 0;  // 1-based
  double loss = 0, lr = 0, grad_norm = 0;
  double seconds = 0;       // this step's wall time
  double tokens_per_s = 0;  // batch * seq / seconds
};

// Runs `steps` optimizer steps; on_step (may be empty) is called after each.
void train_loop(ThreadPool& pool, TrainModel<float>& model, BatchSource& data, AdamW& opt,
                int64_t steps, const std::function<void(const StepStats&)>& on_step);

}  // namespace lc::train
