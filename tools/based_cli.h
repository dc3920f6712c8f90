// The BASED branches of run, bench and logits (arch "based": model/based.h through
// runtime/based_session.h). BASED mixes with its own layers, so the attention flags do not apply.
#pragma once
#include <string>
#include <vector>

#include "args.h"
#include "formats/model_file.h"
#include "runtime/generate.h"

namespace lc::cli {

// Fails naming the flag when any attention flag was given (they configure the transformer's
// KV cache; BASED has none).
void refuse_attention_flags_for_based(const Args& a);

// run --batch output: every sequence's prompt + continuation, one after another.
void print_batch(const std::string& prompt, const std::vector<std::string>& texts);
void print_batch_stats(const GenerateStats& st, int64_t batch);

int run_based(const Args& a, const ModelFile& file, const std::string& prompt,
              const GenerateOptions& g);
// ids: --tokens as given (empty with -p).
int logits_based(const Args& a, const ModelFile& file, const std::vector<int64_t>& ids);

}  // namespace lc::cli
