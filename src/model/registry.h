// Builds the architecture a ModelFile declares (ModelConfig::arch) behind the one Model
// interface. The model views the file's tensors in place: keep the ModelFile alive as long as
// the model.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "formats/model_file.h"
#include "model/model.h"

namespace lc {

// Throws lc::Error naming the file and the architectures known when none matches.
std::unique_ptr<Model> make_model(const ModelFile& file);
// The architecture names the registry knows, in table order.
std::vector<std::string> model_architectures();

}  // namespace lc
