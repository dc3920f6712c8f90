// Small trainer configurations shared by the train_* tests.
#pragma once
#include <cstdint>
#include <vector>

#include "train/model.h"

namespace lc::train::test {

// A Llama-style model with full attention in every layer (Mixer::Attention), tied embeddings.
inline TrainConfig llama_config(int64_t vocab, int64_t d_model, int64_t layers, int64_t heads,
                                int64_t kv_heads, int64_t hidden) {
  TrainConfig c;
  c.arch = Arch::Llama;
  c.vocab_size = vocab;
  c.d_model = d_model;
  c.n_layers = layers;
  c.mixers = std::vector<Mixer>(static_cast<size_t>(layers), Mixer::Attention);
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.hidden = hidden;
  return c;
}

}  // namespace lc::train::test
