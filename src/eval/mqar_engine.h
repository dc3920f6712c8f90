// MQAR accuracy as the engine computes it: a model file run by a runtime Session, each example's
// logits scored with data/mqar.h mqar_accuracy (argmax at the query positions). `longctx recall`
// checks with it that a checkpoint exported by the trainer scores what the trainer's forward
// pass scored.
#pragma once
#include <vector>

#include "data/mqar.h"
#include "formats/model_file.h"

namespace lc {

// Mean accuracy over each test set (one value per set, in order); every example is a fresh
// sequence. Throws lc::Error when a set is empty (the model, when a token is out of range).
std::vector<double> mqar_engine_accuracy(const ModelFile& file,
                                         const std::vector<std::vector<MqarExample>>& test_sets,
                                         int threads);

}  // namespace lc
