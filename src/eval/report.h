// What every evaluation result records (../shared/specs/evals.md): the model file and its
// sha256, the attention configuration with its parameters, the thread count and the commit.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

#include "attention/config.h"
#include "eval/json_writer.h"
#include "formats/model_file.h"

namespace lc {

struct RunInfo {
  std::string evaluation;  // "ppl", "passkey"
  std::string model_path, model_sha256, tokenizer;
  int threads = 0;
  std::string command_line;
};

// Writes the members "evaluation", "model" {path, sha256, config}, "tokenizer", "threads",
// "commit", "command" into the current JSON object.
void write_run_info(JsonWriter& j, const RunInfo& info, const ModelConfig& cfg);
// An object {label, policy, window, sinks, ceiling, topk, topk_from_layer, resolved {...}};
// -1 settings are written as null and "none" for no ceiling; `resolved` fills in the model's
// defaults (window/L = trained context, sinks 4 or 10, D = L).
void write_attention(JsonWriter& j, const AttentionConfig& a, int64_t trained_ctx);
// The same for a model that takes attention policies; for one whose mixing is fixed by its
// config (Model::takes_attention_policy() false) the object {label: resolved, policy: "none"}.
void write_attention(JsonWriter& j, const AttentionConfig& a, int64_t trained_ctx,
                     bool takes_policy, const std::string& resolved);

// Appends printf-style text (one table cell or row, < 512 bytes) to *out.
template <typename... T>
void appendf(std::string* out, const char* format, T... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, format, args...);
  *out += buf;
}

// "%.*f" with non-finite values as "-".
std::string fmt(double v, int decimals);

}  // namespace lc
