// The reports of a passkey run (eval/passkey.h): the markdown table, the JSON record and the
// two plots (key NLL and accuracy vs length).
#pragma once
#include <string>
#include <vector>

#include "eval/passkey.h"
#include "eval/report.h"
#include "formats/model_file.h"

namespace lc {

// One row per (configuration, length): accuracy, mean prompt tokens, key NLL, depth buckets.
std::string passkey_table(const std::vector<PasskeyResult>& results, const PasskeyOptions& opt);
// takes_policy: whether the model takes attention policies (else each result is "none").
std::string passkey_json(const RunInfo& info, const ModelConfig& cfg, bool takes_policy,
                         const PasskeyOptions& opt, const std::vector<PasskeyResult>& results);
// Key NLL vs length to `path`, accuracy vs length to passkey_accuracy_path(path).
void write_passkey_plots(const std::string& path, const ModelConfig& cfg, const PasskeyOptions& opt,
                         const std::vector<PasskeyResult>& results);
// "x.png" -> "x-accuracy.png".
std::string passkey_accuracy_path(const std::string& plot_path);

}  // namespace lc
